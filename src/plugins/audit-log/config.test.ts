import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { runCli } from '../../../test/helpers/gateway.js';

/** audit-log settings that would fail at every POST (or spin) are refused up front: exit 2 naming the field. */
describe('audit-log config validation', () => {
  it('header names and values the HTTP sink could never send, zero retry delays and timeouts', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tollgate-audit-cfg-')), 'tollgate.yaml');
    const http = { http_endpoint: 'http://collector.example/ingest' };
    writeFileSync(
      file,
      stringify({
        plugins: [
          { name: 'audit-log', config: { ...http, headers: { 'Bad Header': 'x' } } },
          { name: 'audit-log', instance_name: 'b', config: { ...http, headers: { 'X-Token': 'a\r\nInjected: 1' } } },
          { name: 'audit-log', instance_name: 'c', config: { ...http, retry_delay: 0 } },
          { name: 'audit-log', instance_name: 'd', config: { ...http, timeout: 0 } },
          { name: 'audit-log', instance_name: 'e', config: { ...http, retry_delay: 1, max_retry_delay: 0 } },
        ],
      }),
    );
    const r = await runCli(['config', 'validate', file]);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    for (const e of [
      'plugins[0].config.headers.Bad Header: expected an HTTP header name such as Authorization',
      'plugins[1].config.headers.X-Token: a header value cannot hold CR, LF or NUL',
      'plugins[2].config.retry_delay: must be at least 0.1 s (0 would retry a failing endpoint in a tight loop)',
      'plugins[3].config.timeout: must be more than 0 (0 would let one hung POST stall delivery for good)',
      'plugins[4].config.max_retry_delay: must not be shorter than retry_delay',
    ]) {
      expect(lines).toContain(`${file}: ${e}`);
    }
  });
});
