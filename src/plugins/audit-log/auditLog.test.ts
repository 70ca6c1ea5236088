import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { runCli, startGateway, type GatewayProcess } from '../../../test/helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../../../test/helpers/upstream.js';
import { freePort, waitFor } from '../../../test/helpers/ports.js';
import { AUDIT_FIELDS } from './record.js';

type Line = Record<string, unknown> & { request_id: string; status_code: number };

function readLines(file: string): Line[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Line);
}

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; id: string }> {
  const res = await request(url, { headers });
  await res.body.dump();
  return { status: res.statusCode, id: String(res.headers['x-request-id']) };
}

function services(up: TestUpstream) {
  return [{ name: 'echo', url: up.url, routes: [{ name: 'all', paths: ['/'] }] }];
}

describe('audit-log file sink', { timeout: 120_000 }, () => {
  let up: TestUpstream;
  let dir: string;
  beforeAll(async () => {
    up = await startUpstream();
    dir = mkdtempSync(join(tmpdir(), 'tollgate-audit-'));
  });
  afterAll(async () => {
    await up?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an MCP tools/call sent upstream is in tools_used even when no answer came back (read timeout, client gone)', async () => {
    const file = join(dir, 'mcp-cut', 'audit.log');
    const gw = await startGateway({
      services: [{ name: 'mcp', url: up.url, read_timeout: 400, routes: [{ name: 'all', paths: ['/'] }] }],
      plugins: [{ name: 'audit-log', config: { path: file } }],
    });
    try {
      const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'drop_table', arguments: {} } });
      const headers = { 'content-type': 'application/json' };
      const timedOut = await request(`${gw.url}/slow?ms=1500`, { method: 'POST', headers, body });
      await timedOut.body.dump();
      expect(timedOut.statusCode).toBe(504);
      const gone = request(`${gw.url}/slow?ms=300`, { method: 'POST', headers, body, signal: AbortSignal.timeout(150) });
      await expect(gone).rejects.toThrow();
      const lines = await waitFor(() => {
        const all = readLines(file);
        return all.length >= 2 ? all : undefined;
      }, 'two audit lines');
      expect(lines.map((l) => [l.status_code, l.tools_used])).toEqual([
        [504, ['drop_table']],
        [499, ['drop_table']],
      ]);
      for (const l of lines) expect(l.upstream_latency_ms as number).toBeLessThanOrEqual(l.latency_ms as number);
    } finally {
      await gw.stop();
    }
  });

  it('SIGTERM during 50 in-flight requests: one line per completed response, then exit 0', async () => {
    const file = join(dir, 'sigterm', 'audit.log');
    const gw = await startGateway({ services: services(up), plugins: [{ name: 'audit-log', config: { path: file } }] });
    const seenBefore = up.seen.length;
    const inflight = Array.from({ length: 50 }, () => get(`${gw.url}/slow?ms=1500`).catch(() => null));
    await waitFor(() => up.seen.length - seenBefore >= 50, '50 requests upstream');
    const exit = gw.stop();
    const replies = await Promise.all(inflight);
    expect(await exit).toBe(0);
    const completed = replies.filter((r) => r !== null);
    expect(completed.length).toBe(50);
    const lines = readLines(file);
    expect(lines.length).toBe(completed.length);
    expect(new Set(lines.map((l) => l.request_id))).toEqual(new Set(completed.map((r) => r.id)));
    expect(lines.every((l) => l.status_code === 200 && l.path === '/slow' && l.service === 'echo')).toBe(true);
  });

  it('chains every line; verify passes, then names the edited line; the chain survives reload, restart and rotation', async () => {
    const sub = join(dir, 'chain');
    const file = join(sub, 'audit.log');
    const config = (routes: string[]) => ({
      services: [{ name: 'echo', url: up.url, routes: routes.map((p, i) => ({ name: `r${i}`, paths: [p] })) }],
      plugins: [{ name: 'audit-log', config: { path: file, tamper_evident: true, rotate_size: 4096, stdout: true } }],
    });
    const gwDir = mkdtempSync(join(tmpdir(), 'tollgate-gw-'));
    let gw: GatewayProcess = await startGateway(config(['/a']), { dir: gwDir });
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push((await get(`${gw.url}/a/${i}`)).id);
    // Reload (a new handler for the same file) while requests keep coming.
    gw.writeConfig(config(['/a', '/b']));
    await waitFor(async () => (await get(`${gw.url}/b/x`)).status === 200, 'reloaded route /b');
    ids.push(...(await Promise.all(Array.from({ length: 20 }, (_, i) => get(`${gw.url}/a/r${i}`)))).map((r) => r.id));
    const stdoutLines = () => gw.stdout().split('\n').filter((l) => l.startsWith('{"timestamp"'));
    await waitFor(() => stdoutLines().length >= 30, 'audit lines on stdout');
    expect(await gw.stop()).toBe(0);
    // Restart: the chain continues from the file's last hash.
    gw = await startGateway(config(['/a', '/b']), { dir: gwDir });
    for (let i = 0; i < 10; i++) ids.push((await get(`${gw.url}/a/after-${i}`)).id);
    expect(await gw.stop()).toBe(0);

    const rotated = readdirSync(sub)
      .filter((n) => n !== 'audit.log')
      .sort((a, b) => Number(a.split('.').pop()) - Number(b.split('.').pop()));
    expect(rotated.length).toBeGreaterThan(0);
    expect(rotated.every((n) => /^audit\.log\.\d{4}-\d{2}-\d{2}\.\d+$/.test(n))).toBe(true);
    const files = [...rotated.map((n) => join(sub, n)), file];
    const all = files.flatMap(readLines);
    const withB = ids.length + 1; // the /b probe(s) after the reload are requests too
    expect(all.length).toBeGreaterThanOrEqual(withB);
    for (const id of ids) expect(all.filter((l) => l.request_id === id)).toHaveLength(1);
    expect(Object.keys(all[0]!)).toEqual([...AUDIT_FIELDS, 'prev_hash', 'hash']);
    expect(all[0]!.prev_hash).toBe('0'.repeat(64));

    const ok = await runCli(['audit', 'verify', ...files]);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`${all.length} records, hash chain intact`);
    // Any order on the command line (a shell glob puts `.10` before `.2`): checked in rotation order.
    const anyOrder = await runCli(['audit', 'verify', file, ...files.slice(0, -1).reverse()]);
    expect(anyOrder.code).toBe(0);
    expect(anyOrder.stdout).toContain(`${all.length} records, hash chain intact`);

    // Someone edits one line: its file and line number are reported.
    const original = readFileSync(files[0]!, 'utf8');
    const text = original.split('\n');
    expect(text.length).toBeGreaterThan(3);
    text[2] = text[2]!.replace(/"status_code":\d+/, '"status_code":201');
    writeFileSync(files[0]!, text.join('\n'));
    const bad = await runCli(['audit', 'verify', ...files]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain(`${files[0]}:3: hash chain broken: content does not match its hash`);

    // A removed line is caught by the next line's prev_hash.
    const removedLine = original.split('\n');
    removedLine.splice(1, 1);
    writeFileSync(files[0]!, removedLine.join('\n'));
    const removed = await runCli(['audit', 'verify', ...files]);
    expect(removed.code).toBe(1);
    expect(removed.stdout).toContain(`${files[0]}:2: hash chain broken: prev_hash does not match`);
    rmSync(gwDir, { recursive: true, force: true });
  });

  it('beyond buffer_size the log phase writes synchronously, and the file order is still the chain order', async () => {
    const file = join(dir, 'overflow', 'audit.log');
    const gw = await startGateway({ services: services(up), plugins: [{ name: 'audit-log', config: { path: file, tamper_evident: true, buffer_size: 2 } }] });
    const replies = await Promise.all(Array.from({ length: 100 }, (_, i) => get(`${gw.url}/burst/${i}`)));
    expect(await gw.stop()).toBe(0);
    const lines = readLines(file);
    expect(lines.map((l) => l.request_id).sort()).toEqual(replies.map((r) => r.id).sort());
    const verify = await runCli(['audit', 'verify', file]);
    expect(verify.stdout).toContain('100 records, hash chain intact');
    expect(verify.code).toBe(0);
  });

  it('a second process writing the same file: lines of both are kept (not overwritten), and the log says so', async () => {
    const file = join(dir, 'shared', 'audit.log');
    const config = { services: services(up), plugins: [{ name: 'audit-log', config: { path: file } }] };
    const a = await startGateway(config);
    const b = await startGateway(config);
    try {
      const ids: string[] = [];
      const burst = async (gw: GatewayProcess, what: string) => {
        for (let i = 0; i < 30; i++) ids.push((await get(`${gw.url}/${what}/${i}`)).id);
        await waitFor(() => readLines(file).some((l) => l.request_id === ids[ids.length - 1]), `${what} written`);
      };
      await burst(a, 'a1');
      await burst(b, 'b1');
      await burst(a, 'a2'); // a's file offset is behind b's lines now
      const lines = readLines(file);
      expect(lines).toHaveLength(90);
      expect(new Set(lines.map((l) => l.request_id))).toEqual(new Set(ids));
      await waitFor(() => a.stderr().includes('another process writes to it too'), "a's error line");
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('verify: a missing file is a usage error (exit 2)', async () => {
    const r = await runCli(['audit', 'verify', join(dir, 'nope.log')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('nope.log: no such file');
  });
});

describe('audit-log stdout sink', { timeout: 120_000 }, () => {
  it('a reader of stdout that stalls holds the gateway up instead of losing records; SIGTERM then flushes every one', async () => {
    const up = await startUpstream();
    const gw = await startGateway({ services: services(up), plugins: [{ name: 'audit-log', config: { stdout: true, flush_timeout: '1s' } }] });
    try {
      gw.child.stdout!.pause(); // the log collector stops reading
      const agent = new Agent({ connections: 20 });
      let completed = 0;
      const requests = Array.from({ length: 400 }, (_, i) =>
        request(`${gw.url}/r${i}`, { dispatcher: agent })
          .then(async (r) => {
            await r.body.dump();
            completed++;
          })
          .catch(() => undefined),
      );
      await new Promise((r) => setTimeout(r, 1500));
      gw.signal('SIGTERM');
      await new Promise((r) => setTimeout(r, 2500)); // longer than flush_timeout
      gw.child.stdout!.resume();
      expect(await gw.exited).toBe(0);
      await Promise.all(requests);
      await agent.close();
      const lines = gw.stdout().split('\n').filter((l) => l.startsWith('{"timestamp"'));
      expect(completed).toBeGreaterThan(100);
      expect(lines.length).toBe(completed);
    } finally {
      if (gw.child.exitCode === null) await gw.stop();
      await up.close();
    }
  });
});

interface Collector {
  server: Server;
  batches: { key: string; records: Line[] }[];
  close(): Promise<void>;
}

function startCollector(port: number): Promise<Collector> {
  const batches: Collector['batches'] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      batches.push({ key: String(req.headers['idempotency-key']), records: JSON.parse(body) as Line[] });
      res.writeHead(204).end();
    });
  });
  return new Promise((resolve) =>
    server.listen(port, '127.0.0.1', () =>
      resolve({
        server,
        batches,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      }),
    ),
  );
}

describe('audit-log HTTP sink', { timeout: 120_000 }, () => {
  it('endpoint down (across a restart), then up: every record delivered exactly once', async () => {
    const up = await startUpstream();
    const port = await freePort();
    const gwDir = mkdtempSync(join(tmpdir(), 'tollgate-gw-'));
    const config = {
      services: services(up),
      plugins: [
        {
          name: 'audit-log',
          config: { http_endpoint: `http://127.0.0.1:${port}/audit`, batch_size: 5, flush_interval: '100ms', retry_delay: '100ms', max_retry_delay: '500ms', flush_timeout: 2 },
        },
      ],
    };
    const spoolRoot = join(gwDir, 'data', 'audit-spool');
    const spooled = () => (existsSync(spoolRoot) ? readdirSync(spoolRoot).flatMap((d) => readdirSync(join(spoolRoot, d)).filter((f) => f.endsWith('.json'))) : []);

    let gw = await startGateway(config, { dir: gwDir });
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push((await get(`${gw.url}/first/${i}`)).id);
    await waitFor(() => spooled().length >= 3, 'batches spooled while the endpoint is down');
    expect(await gw.stop()).toBe(0);

    gw = await startGateway(config, { dir: gwDir });
    for (let i = 0; i < 8; i++) ids.push((await get(`${gw.url}/second/${i}`)).id);
    const collector = await startCollector(port);
    const received = () => collector.batches.flatMap((b) => b.records);
    await waitFor(() => received().length >= ids.length, 'all records delivered', 20_000);
    expect(await gw.stop()).toBe(0);

    const got = received();
    expect(got.map((r) => r.request_id).sort()).toEqual([...ids].sort());
    expect(new Set(collector.batches.map((b) => b.key)).size).toBe(collector.batches.length);
    expect(collector.batches.every((b) => b.records.length <= 5)).toBe(true);
    expect(Object.keys(got[0]!)).toEqual([...AUDIT_FIELDS]);
    expect(spooled()).toEqual([]);
    await collector.close();
    await up.close();
    rmSync(gwDir, { recursive: true, force: true });
  });
});
