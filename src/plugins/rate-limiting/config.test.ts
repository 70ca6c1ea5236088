import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { runCli } from '../../../test/helpers/gateway.js';

/** Config mistakes in limits are one clear line each (`tollgate config validate`, exit 2). */
describe('rate-limiting and token-budget config validation', () => {
  it('names every problem with its path', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tollgate-limits-')), 'tollgate.yaml');
    writeFileSync(
      file,
      stringify({
        plugins: [
          { name: 'rate-limiting', config: { limit_by: 'ip' } },
          { name: 'rate-limiting', instance_name: 'b', config: { minute: 100, hour: 10, limit_by: 'header' } },
          { name: 'rate-limiting', instance_name: 'c', config: { minute: 10, policy: 'cluster' } },
          { name: 'rate-limiting', instance_name: 'd', config: { minute: 10, policy: 'redis' } },
          { name: 'token-budget', config: { reset_timezone: 'Mars/Olympus' } },
          { name: 'rate-limiting', instance_name: 'e', config: { minute: 10, limit_by: 'header', header_name: 'bad header' } },
          { name: 'jwt', config: { header_names: ['x token'] } },
        ],
      }),
    );
    const r = await runCli(['config', 'validate', file]);
    expect(r.code).toBe(2);
    const lines = r.stdout.concat(r.stderr).trim().split('\n');
    const expected = [
      'plugins[0].config: set at least one limit: second, minute, hour, day, month, year',
      'plugins[1].config.hour: the limit for hour (10) cannot be lower than the limit for minute (100)',
      'plugins[1].config.header_name: required when limit_by is "header"',
      `plugins[2].config.policy: expected "local" or "redis" (Kong's "cluster" policy is not supported; use "redis" with gateway.redis)`,
      'plugins[4].config.day: expected the default daily budget per workspace, in tokens (e.g. day: 1000000)',
      'plugins[4].config.reset_timezone: expected an IANA time zone such as UTC or Europe/Paris',
      'plugins[5].config.header_name: expected an HTTP header name such as X-Caller-Id',
      'plugins[6].config.header_names[0]: expected an HTTP header name such as Authorization',
    ];
    for (const e of expected) expect(lines).toContain(`${file}: ${e}`);
  });

  it('policy redis needs gateway.redis', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tollgate-limits-')), 'tollgate.yaml');
    writeFileSync(file, stringify({ plugins: [{ name: 'token-budget', config: { day: 10, policy: 'redis' } }] }));
    const r = await runCli(['config', 'validate', file]);
    expect(r.code).toBe(2);
    expect(r.stdout.concat(r.stderr)).toContain(`${file}: plugins[0].config.policy: policy "redis" needs gateway.redis (set it, or use policy "local")`);
    writeFileSync(file, stringify({ gateway: { redis: 'redis://127.0.0.1:6379/0' }, plugins: [{ name: 'token-budget', config: { day: 10, policy: 'redis' } }] }));
    expect((await runCli(['config', 'validate', file])).code).toBe(0);
  });
});
