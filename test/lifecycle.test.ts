import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type GatewayProcess } from './helpers/gateway.js';
import { startUpstream, type TestUpstream } from './helpers/upstream.js';
import { freePort, waitFor } from './helpers/ports.js';
import { freshDatabase } from './helpers/postgres.js';
import { connect as netConnect, createServer, type Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';

function serviceConfig(up: TestUpstream, paths: string[]) {
  return { services: [{ name: 'echo', url: up.url, routes: paths.map((p, i) => ({ name: `r${i}`, paths: [p] })) }] };
}

async function status(url: string): Promise<number> {
  const res = await request(url);
  await res.body.dump();
  return res.statusCode;
}

describe('reload', () => {
  let up: TestUpstream;
  let gw: GatewayProcess;
  beforeAll(async () => {
    up = await startUpstream();
    gw = await startGateway(serviceConfig(up, ['/a']));
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  it('picks up a changed file without dropping a request', async () => {
    expect(await status(`${gw.url}/b`)).toBe(404);
    let stop = false;
    const codes: number[] = [];
    const load = (async () => {
      while (!stop) {
        const batch = await Promise.all(Array.from({ length: 8 }, () => status(`${gw.url}/a/x`)));
        codes.push(...batch);
      }
    })();
    await new Promise((r) => setTimeout(r, 200));
    gw.writeConfig(serviceConfig(up, ['/a', '/b']));
    await waitFor(async () => (await status(`${gw.url}/b/x`)) === 200, 'route /b after reload', 10_000);
    await new Promise((r) => setTimeout(r, 200));
    stop = true;
    await load;
    expect(codes.length).toBeGreaterThan(16);
    expect(codes.every((c) => c === 200)).toBe(true);
  });

  it('refuses an empty file (a file caught half-written) and keeps every route', async () => {
    writeFileSync(gw.configFile, '');
    gw.signal('SIGHUP');
    await waitFor(() => gw.stderr().includes(`${gw.configFile}: the file is empty`), 'empty-file error line', 10_000);
    expect(await status(`${gw.url}/a/x`)).toBe(200);
    expect(await status(`${gw.url}/b/x`)).toBe(200);
  });

  it('refuses an invalid file on SIGHUP, says why in one line per problem, and keeps serving', async () => {
    // A schema problem and a cross-field one: both lines from one reload.
    writeFileSync(gw.configFile, 'services:\n  - name: echo\n    url: not a url\n  - name: b\n    url: http://x\n  - name: b\n    url: http://y\n');
    gw.signal('SIGHUP');
    await waitFor(() => gw.stderr().includes(`${gw.configFile}: services[0].url:`), 'reload error line', 10_000);
    expect(gw.stderr()).toContain(`${gw.configFile}: services[2].name: duplicate service name 'b' (also services[1])`);
    expect(await status(`${gw.url}/a/x`)).toBe(200);
    expect(await status(`${gw.url}/b/x`)).toBe(200);
    const report = (await (await request(`${gw.statusUrl}/status`)).body.json()) as { configuration: { last_reload_error: string } };
    expect(report.configuration.last_reload_error).toContain('services[0].url');
  });
});

describe('log_level on reload', () => {
  it('applies a changed gateway.log_level when TOLLGATE_LOG_LEVEL does not pin it', async () => {
    const up = await startUpstream();
    const config = (level: string) => ({ gateway: { log_level: level }, ...serviceConfig(up, ['/a']) });
    const gw = await startGateway(config('error'), { env: { TOLLGATE_LOG_LEVEL: undefined as unknown as string } });
    try {
      expect(gw.stderr()).not.toContain('"level":30'); // nothing at info while at error
      gw.writeConfig(config('info'));
      await waitFor(() => gw.stderr().includes('config reloaded') || undefined, 'the reload, logged at info', 10_000);
      expect(gw.stderr()).toContain('log level changed');
      expect(gw.stderr()).toContain('"level":30');
    } finally {
      await gw.stop();
      await up.close();
    }
  });
});

describe('a reload that fails while it is built', () => {
  it('changes nothing: the store keeps its consumers, the old config keeps serving', async () => {
    const up = await startUpstream();
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-atomic-'));
    writeFileSync(join(dir, 'in-the-way'), ''); // an audit directory that cannot be created
    const config = (consumers: string[], audit?: string) => ({
      ...serviceConfig(up, ['/']),
      consumers: consumers.map((username) => ({ username })),
      ...(audit ? { plugins: [{ name: 'audit-log', config: { path: audit } }] } : {}),
    });
    const gw = await startGateway(config(['alice']));
    try {
      const usernames = async () => ((await (await request(`${gw.adminUrl}/consumers`)).body.json()) as { data: { username: string }[] }).data.map((c) => c.username).sort();
      expect(await usernames()).toEqual(['alice']);
      gw.writeConfig(config(['bob'], join(dir, 'in-the-way', 'audit.log')));
      gw.signal('SIGHUP');
      await waitFor(() => gw.stderr().includes('in-the-way') || undefined, 'the failed reload', 10_000);
      expect(await usernames()).toEqual(['alice']);
      expect(await status(`${gw.url}/x`)).toBe(200);
      const report = (await (await request(`${gw.statusUrl}/status`)).body.json()) as { configuration: { last_reload_error: string | null } };
      expect(report.configuration.last_reload_error).toMatch(/in-the-way/);
    } finally {
      await gw.stop();
      await up.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('restart-only settings changed by a reload', () => {
  it('are named in a warning, and /status and ready keep describing what runs', async () => {
    const gw = await startGateway({});
    try {
      gw.writeConfig({ gateway: { redis: 'redis://127.0.0.1:1', max_header_size: '2k', headers_timeout: 5, keepalive_timeout: 5, upstream_keepalive: 4 } });
      gw.signal('SIGHUP');
      const out = () => gw.stdout() + gw.stderr();
      await waitFor(() => out().includes('these settings take effect at the next restart') || undefined, 'the warning', 10_000);
      for (const f of ['redis', 'max_header_size', 'headers_timeout', 'keepalive_timeout', 'upstream_keepalive']) expect(out()).toContain(`gateway.${f}`);
      const report = (await (await request(`${gw.statusUrl}/status`)).body.json()) as { redis: unknown };
      expect(report.redis).toEqual({ reachable: false, configured: false });
      expect(await status(`${gw.statusUrl}/health/ready`)).toBe(200);
    } finally {
      await gw.stop();
    }
  });
});

describe('a store that is not reachable yet at start', () => {
  it('is waited for (a PostgreSQL still starting), then the gateway starts; past TOLLGATE_STORE_WAIT_S it exits 1 naming it', async () => {
    const db = new URL(await freshDatabase('tg_wait'));
    const port = await freePort();
    // The first two connections are cut at once (a PostgreSQL still starting); then it forwards.
    const sockets = new Set<Socket>();
    let cut = 0;
    const front = createServer((client) => {
      if (cut < 2) {
        cut++;
        client.destroy();
        return;
      }
      const upstream = netConnect(Number(db.port), db.hostname);
      sockets.add(client).add(upstream);
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    await new Promise<void>((r) => front.listen(port, '127.0.0.1', r));
    const store = new URL(db.href);
    store.port = String(port);
    try {
      const gw = await startGateway({ gateway: { store: store.href } }, { env: { TOLLGATE_STORE_WAIT_S: '30', TOLLGATE_LOG_LEVEL: 'info' } });
      try {
        expect(gw.stderr()).toContain('store unreachable at start: waiting for it');
        expect(await status(`${gw.statusUrl}/health/ready`)).toBe(200);
      } finally {
        await gw.stop();
      }
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => front.close(() => r(undefined)));
    }
    const nowhere = new URL(store.href);
    nowhere.port = String(await freePort());
    await expect(startGateway({ gateway: { store: nowhere.href } }, { env: { TOLLGATE_STORE_WAIT_S: '2' } })).rejects.toThrow(/exited \(1\)[\s\S]*is unreachable/);
  });
});

describe('SIGTERM', () => {
  it('drains in-flight requests, then exits 0', async () => {
    const up = await startUpstream();
    const gw = await startGateway(serviceConfig(up, ['/']));
    const inflight = Array.from({ length: 20 }, () =>
      request(`${gw.url}/slow?ms=1500`).then(async (r) => {
        await r.body.dump();
        return r.statusCode;
      }),
    );
    await waitFor(() => up.seen.length >= 20, 'all requests upstream');
    const exit = gw.stop();
    const codes = await Promise.all(inflight);
    expect(codes).toEqual(Array(20).fill(200));
    expect(await exit).toBe(0);
    await expect(request(`${gw.url}/x`)).rejects.toThrow();
    await up.close();
  });
});

describe('SIGTERM: the status listener through the drain', () => {
  it('answers live 200 and ready 503 "draining" while in-flight requests finish', async () => {
    const up = await startUpstream();
    const gw = await startGateway(serviceConfig(up, ['/']));
    try {
      const inflight = request(`${gw.url}/slow?ms=2500`).then(async (r) => {
        await r.body.dump();
        return r.statusCode;
      });
      await waitFor(() => up.seen.length >= 1 || undefined, 'the request upstream');
      gw.signal('SIGTERM');
      const ready = await waitFor(async () => {
        const r = await request(`${gw.statusUrl}/health/ready`);
        const body = (await r.body.json()) as { reasons?: string[] };
        return r.statusCode === 503 ? body : undefined;
      }, 'ready to say draining', 5_000);
      expect(ready.reasons).toContain('draining');
      expect(await status(`${gw.statusUrl}/health/live`)).toBe(200);
      expect(await inflight).toBe(200);
      expect(await gw.exited).toBe(0);
    } finally {
      await gw.stop();
      await up.close();
    }
  });
});

describe('SIGTERM after a reload', () => {
  it('drains the requests that started on the replaced config too, and flushes their audit records', async () => {
    const up = await startUpstream();
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-drain-'));
    const audit = join(dir, 'audit.log');
    const config = (paths: string[]) => ({ ...serviceConfig(up, paths), plugins: [{ name: 'audit-log', config: { path: audit } }] });
    const gw = await startGateway(config(['/a']));
    // Streams of 8 events 300 ms apart, started on the first config.
    const streams = Array.from({ length: 3 }, () =>
      request(`${gw.url}/a/sse?events=8&delay=300`).then(async (r) => ({ status: r.statusCode, id: String(r.headers['x-request-id']), body: await r.body.text() })),
    );
    await waitFor(() => up.seen.filter((r) => r.url.includes('/sse')).length >= 3 || undefined, 'the streams upstream');
    gw.writeConfig(config(['/a', '/b']));
    gw.signal('SIGHUP');
    await waitFor(async () => (await status(`${gw.url}/b/x`)) === 200 || undefined, 'the reload', 10_000);
    const exit = gw.stop();
    const done = await Promise.all(streams);
    expect(await exit).toBe(0);
    for (const s of done) {
      expect(s.status).toBe(200);
      expect(s.body.match(/^data: \{"n":\d\}$/gm)).toHaveLength(8);
      expect(s.body).toContain('data: [DONE]');
    }
    const lines = readFileSync(audit, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { request_id: string; status_code: number; error: string | null });
    for (const s of done) expect(lines.find((l) => l.request_id === s.id)).toMatchObject({ status_code: 200, error: null });
    await up.close();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('SIGTERM with an MCP client listening', () => {
  it("closes MCP GET event streams at once (clients reconnect to another replica) and lets other streams finish", async () => {
    const up = await startUpstream();
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-mcp-drain-'));
    const audit = join(dir, 'audit.log');
    const gw = await startGateway({ gateway: { drain_timeout: 30 }, ...serviceConfig(up, ['/']), plugins: [{ name: 'audit-log', config: { path: audit } }] });
    // An MCP Streamable HTTP GET stream: server-to-client messages, open until someone closes it.
    const listening = request(`${gw.url}/mcp/sse?events=1000&delay=200`, { headers: { accept: 'text/event-stream', 'mcp-session-id': 'session-1' } }).then(async (r) => ({
      id: String(r.headers['x-request-id']),
      body: await r.body.text(),
    }));
    // A generation streaming its answer: it finishes.
    const generating = request(`${gw.url}/llm/sse?events=8&delay=250`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } }).then(async (r) => r.body.text());
    await waitFor(() => up.seen.filter((r) => r.url.includes('/sse')).length >= 2 || undefined, 'both streams upstream');
    await new Promise((r) => setTimeout(r, 300));
    // drain_timeout is 30 s: an exit well within the stop's 10 s is the listening stream not held.
    expect(await gw.stop(10_000)).toBe(0);
    const closed = await listening; // ended cleanly (a cut would reject)
    expect(closed.body).toMatch(/^data: \{"n":0\}/);
    expect(closed.body).not.toContain('[DONE]');
    const finished = await generating;
    expect(finished.match(/^data: \{"n":\d\}$/gm)).toHaveLength(8);
    expect(finished).toContain('data: [DONE]');
    const line = readFileSync(audit, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { request_id: string; status_code: number; error: string | null }).find((l) => l.request_id === closed.id);
    expect(line).toMatchObject({ status_code: 200, error: 'closed at shutdown: an MCP event stream (the client reconnects)' });
    await up.close();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('SIGTERM past drain_timeout', () => {
  it('cuts what is left, and the audit record says the gateway cut it', async () => {
    const up = await startUpstream();
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-cut-'));
    const audit = join(dir, 'audit.log');
    const gw = await startGateway({ gateway: { drain_timeout: 1 }, ...serviceConfig(up, ['/']), plugins: [{ name: 'audit-log', config: { path: audit } }] });
    const stream = request(`${gw.url}/sse?events=20&delay=300`).then(async (r) => ({ id: String(r.headers['x-request-id']), body: await r.body.text().catch(() => 'cut') }));
    await waitFor(() => up.seen.some((r) => r.url.includes('/sse')) || undefined, 'the stream upstream');
    expect(await gw.stop()).toBe(0);
    const { id } = await stream;
    const line = readFileSync(audit, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { request_id: string; error: string | null }).find((l) => l.request_id === id);
    expect(line?.error).toBe('cut at shutdown: drain_timeout passed');
    await up.close();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('WebSockets: a client that half-closes, and bytes sent with the upgrade', () => {
  it('a client FIN ends the tunnel even when the upstream ignores it; bytes that came with the upgrade request count in bytes_in', async () => {
    // An upstream that answers 101, echoes, and never closes on a FIN (half-open).
    const held = new Set<Socket>();
    const stubborn = createServer({ allowHalfOpen: true }, (s) => {
      held.add(s);
      let head = true;
      s.on('data', (d: Buffer) => {
        if (head) {
          head = false;
          s.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
          const rest = d.subarray(d.indexOf('\r\n\r\n') + 4);
          if (rest.length > 0) s.write(rest);
          return;
        }
        s.write(d);
      });
      s.on('error', () => {});
    });
    await new Promise<void>((r) => stubborn.listen(0, '127.0.0.1', r));
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-ws-fin-'));
    const audit = join(dir, 'audit.log');
    const gw = await startGateway({
      services: [{ name: 'ws', url: `http://127.0.0.1:${(stubborn.address() as { port: number }).port}`, read_timeout: 120_000, routes: [{ name: 'ws', paths: ['/ws'] }] }],
      plugins: [{ name: 'audit-log', config: { path: audit } }],
    });
    try {
      const socket = netConnect(gw.ports.proxy!, '127.0.0.1');
      let got = '';
      socket.on('data', (d: Buffer) => (got += d.toString()));
      socket.on('error', () => {});
      const closed = new Promise<void>((r) => socket.on('close', () => r()));
      await new Promise<void>((r) => socket.once('connect', () => r()));
      // "hello" rides in the same write as the upgrade request
      socket.write('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\nhello');
      await waitFor(() => got.endsWith('hello') || undefined, 'the echo of the early bytes', 5000);
      socket.end(); // FIN; read_timeout is 120 s, so only the FIN can end this tunnel soon
      await closed;
      const line = await waitFor(() => (existsSync(audit) ? readFileSync(audit, 'utf8').trim().split('\n').filter(Boolean)[0] : undefined), 'the record');
      expect(JSON.parse(line)).toMatchObject({ status_code: 101, bytes_in: 5, bytes_out: 5, error: null });
    } finally {
      await gw.stop();
      for (const s of held) s.destroy(); // half-open for good: the server would wait for them
      await new Promise((r) => stubborn.close(r));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('WebSockets: a client leaving during the handshake, and SIGTERM', () => {
  const UPGRADE_REQUEST = 'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';
  let hang: ReturnType<typeof createServer>;
  /** Upstream connections that received a handshake, and whether each has closed since. */
  const handshakes: Array<{ closed: boolean }> = [];
  let dir: string;
  beforeAll(async () => {
    hang = createServer((s) => {
      const seen = { closed: false };
      s.once('data', () => handshakes.push(seen));
      s.on('close', () => (seen.closed = true));
      s.on('error', () => {});
    });
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    dir = mkdtempSync(join(tmpdir(), 'tollgate-ws-hang-'));
  });
  afterAll(async () => {
    await new Promise((r) => hang.close(r));
    rmSync(dir, { recursive: true, force: true });
  });
  const start = (audit: string) =>
    startGateway({
      gateway: { drain_timeout: 1 },
      services: [{ name: 'hang', url: `http://127.0.0.1:${(hang.address() as { port: number }).port}`, read_timeout: 120_000, routes: [{ name: 'ws', paths: ['/ws'] }] }],
      plugins: [{ name: 'audit-log', config: { path: audit } }],
    });
  const records = (audit: string) =>
    readFileSync(audit, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { status_code: number; error: string | null; request_uri: string });
  const openHandshake = async (gw: GatewayProcess): Promise<Socket> => {
    const before = handshakes.length;
    const socket = netConnect(gw.ports.proxy!, '127.0.0.1', () => socket.write(UPGRADE_REQUEST));
    socket.on('error', () => {});
    await waitFor(() => handshakes.length > before || undefined, 'the handshake upstream');
    return socket;
  };

  it('a client that leaves before the 101 gets its record at once, and the upstream handshake is dropped', async () => {
    const audit = join(dir, 'leave.log');
    const gw = await start(audit);
    try {
      const socket = await openHandshake(gw);
      const upstream = handshakes.at(-1)!;
      socket.end();
      // read_timeout is 120 s: both happen long before it would.
      await waitFor(() => (existsSync(audit) && records(audit).length === 1) || undefined, 'the record', 10_000);
      expect(records(audit)[0]).toMatchObject({ status_code: 499, error: 'client closed the connection' });
      await waitFor(() => upstream.closed || undefined, 'the upstream connection closed', 10_000);
    } finally {
      await gw.stop();
    }
  });

  it('SIGTERM with a handshake pending exits after drain_timeout, and the record says the gateway cut it', async () => {
    const audit = join(dir, 'sigterm.log');
    const gw = await start(audit);
    const socket = await openHandshake(gw);
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    expect(await gw.stop(15_000)).toBe(0); // drain_timeout 1 s; read_timeout 120 s
    await closed;
    expect(records(audit)).toMatchObject([{ status_code: 499, error: 'cut at shutdown: drain_timeout passed' }]);
    expect(handshakes.at(-1)!.closed).toBe(true);
  });

  it('a WebSocket still open when the drain runs out is recorded as cut; one its client closed has no error', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((r) => wss.once('listening', r));
    wss.on('connection', (sock) => sock.on('message', (m) => sock.send(`echo:${m.toString()}`)));
    const audit = join(dir, 'tunnel.log');
    const gw = await startGateway({
      gateway: { drain_timeout: 1 },
      services: [{ name: 'ws', url: `http://127.0.0.1:${(wss.address() as { port: number }).port}`, routes: [{ name: 'ws', paths: ['/ws'] }] }],
      plugins: [{ name: 'audit-log', config: { path: audit } }],
    });
    const open = async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${gw.ports.proxy}/ws`);
      ws.on('error', () => {});
      await new Promise((r) => ws.once('open', r));
      ws.send('ping');
      await new Promise((r) => ws.once('message', r));
      return ws;
    };
    try {
      const closedByClient = await open();
      closedByClient.close();
      await waitFor(() => (existsSync(audit) && records(audit).length === 1) || undefined, 'the first record', 10_000);
      const stays = await open();
      const gone = new Promise((r) => stays.once('close', r));
      expect(await gw.stop(15_000)).toBe(0);
      await gone;
      expect(records(audit)).toMatchObject([
        { status_code: 101, error: null },
        { status_code: 101, error: 'cut at shutdown: drain_timeout passed' },
      ]);
    } finally {
      await gw.stop();
      await new Promise((r) => wss.close(r));
    }
  });
});

describe('health and status', () => {
  let gw: GatewayProcess;
  beforeAll(async () => {
    gw = await startGateway({});
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('reports live, ready and status', async () => {
    expect(await status(`${gw.statusUrl}/health/live`)).toBe(200);
    expect(await status(`${gw.statusUrl}/health/ready`)).toBe(200);
    const report = (await (await request(`${gw.statusUrl}/status`)).body.json()) as { database: { reachable: boolean }; server: { connections_accepted: number } };
    expect(report.database.reachable).toBe(true);
    expect(report.server.connections_accepted).toBeGreaterThanOrEqual(0);
  });

  it('binds admin to loopback and serves GET /', async () => {
    const res = await request(`${gw.adminUrl}/`);
    const body = (await res.body.json()) as { tagline: string; version: string };
    expect(body.tagline).toBe('Welcome to tollgate');
  });

  it('refuses to start with admin beyond loopback and no token', async () => {
    await expect(startGateway({}, { env: { TOLLGATE_ADMIN_LISTEN: '0.0.0.0:0' } })).rejects.toThrow(/gateway\.admin_token: required/);
  });

  it('refuses a reload that drops the token while admin listens beyond loopback (TOLLGATE_ADMIN_LISTEN)', async () => {
    const wide = await startGateway({ gateway: { admin_token: 'keep-me' } }, { env: { TOLLGATE_ADMIN_LISTEN: '0.0.0.0:0' } });
    try {
      expect((await request(`${wide.adminUrl}/consumers`)).statusCode).toBe(401);
      wide.writeConfig({});
      wide.signal('SIGHUP');
      await waitFor(() => wide.stderr().includes('gateway.admin_token: required because the Admin API listens on 0.0.0.0:0'), 'the refused reload', 10_000);
      const open = await request(`${wide.adminUrl}/consumers`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"username":"pwned"}' });
      expect(open.statusCode).toBe(401);
      expect((await request(`${wide.adminUrl}/consumers`, { headers: { authorization: 'Bearer keep-me' } })).statusCode).toBe(200);
    } finally {
      await wide.stop();
    }
  });
});
