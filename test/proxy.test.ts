import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, Agent } from 'undici';
import { connect, type Socket } from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { Readable } from 'node:stream';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, WebSocket } from 'ws';
import { startGateway, type GatewayProcess } from './helpers/gateway.js';
import { startUpstream, type TestUpstream } from './helpers/upstream.js';
import { freePort, rawRequest, waitFor } from './helpers/ports.js';
import { rsaPair, seedToken } from './helpers/jwt.js';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

describe('proxy: a request body waits for access to pass', () => {
  let up: TestUpstream;
  let gw: GatewayProcess;
  let token: string;
  let auditFile: string;
  const chat = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hello' }] });
  beforeAll(async () => {
    up = await startUpstream();
    const key = rsaPair(2048);
    token = await seedToken(key, 'admin-key', 'user-1');
    auditFile = join(mkdtempSync(join(tmpdir(), 'tg-body-audit-')), 'audit.log');
    gw = await startGateway({
      services: [
        {
          name: 'echo',
          url: up.url,
          routes: [
            // jwt + token-budget: the body is parsed (the budget's estimate needs it)
            { name: 'ai', paths: ['/ai'], plugins: [{ name: 'jwt' }, { name: 'token-budget', config: { day: 1_000_000, membership: 'open' } }] },
            // jwt alone: a small body is read whole, a large one streamed
            { name: 'authed', paths: ['/authed'], plugins: [{ name: 'jwt' }] },
            { name: 'open', paths: ['/open'] },
          ],
        },
      ],
      consumers: [{ username: 'app', jwt_secrets: [{ key: 'admin-key', algorithm: 'RS256', rsa_public_key: key.publicPem }] }],
      plugins: [{ name: 'audit-log', config: { path: auditFile } }],
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });
  const head = (path: string, length: number, extra = '') =>
    `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Workspace-Id: ws-1\r\nContent-Length: ${length}\r\n${extra}\r\n`;
  const answered = /\r\n\r\n\{[^]*\}/;

  it('a client waiting on Expect: 100-continue without credentials gets its 401, not an invitation to send the body', async () => {
    for (const path of ['/ai/v1/chat/completions', '/authed/x']) {
      const seen = up.seen.length;
      const out = await talk(gw.ports.proxy!, [head(path, 50_000, 'Expect: 100-continue\r\n')], answered);
      expect(out, path).toMatch(/^HTTP\/1\.1 401 /);
      expect(out, path).not.toContain('100 Continue');
      // The body it announced may never come: the connection closes after the answer.
      expect(out.toLowerCase(), path).toContain('connection: close');
      expect(up.seen.length).toBe(seen);
    }
  });

  it('a body still arriving does not hold back the 401: the gateway does not buffer it for an unauthenticated caller', async () => {
    // 10 of 50,000 bytes sent; the service's write_timeout (60 s) would pass before the rest.
    for (const path of ['/ai/v1/chat/completions', '/authed/x']) {
      const out = await talk(gw.ports.proxy!, [head(path, 50_000), '{"model":"'], answered);
      expect(out, path).toMatch(/^HTTP\/1\.1 401 /);
    }
  });

  it('an authenticated client gets 100 Continue, sends its body and gets the answer', async () => {
    const big = JSON.stringify({ pad: 'a'.repeat(200_000) }); // beyond the small-body size: streamed
    const cases: Array<[string, string, string]> = [
      ['/ai/v1/chat/completions', chat, `Authorization: Bearer ${token}\r\n`],
      ['/authed/small', chat, `Authorization: Bearer ${token}\r\n`],
      ['/authed/big', big, `Authorization: Bearer ${token}\r\n`],
      ['/open/x', chat, ''],
    ];
    for (const [path, body, auth] of cases) {
      const seen = up.seen.length;
      const out = await talk(gw.ports.proxy!, [head(path, body.length, `Expect: 100-continue\r\n${auth}`), 300, body], /\r\n0\r\n\r\n/);
      expect(out, path).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
      expect(up.seen.length, path).toBe(seen + 1);
      const got = up.seen.at(-1)!;
      expect(got.body.length, path).toBe(body.length);
      expect(got.headers.expect, path).toBeUndefined();
    }
  });

  it('a client that hangs up while the body of its answered request is drained gets no second record', async () => {
    const out = await talk(gw.ports.proxy!, [head('/authed/x', 1000) + '{"pad":"', 300], answered);
    expect(out).toMatch(/^HTTP\/1\.1 401 /);
    const id = /x-request-id: (\S+)/i.exec(out)![1]!; // talk() then ends the connection mid-body
    const marker = await talk(gw.ports.proxy!, ['GET /open/marker HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'], /\r\n0\r\n\r\n/);
    const markerId = /x-request-id: (\S+)/i.exec(marker)![1]!;
    const lines = await waitFor(() => {
      const all = readAudit(auditFile);
      return all.some((l) => l.request_id === markerId) ? all : undefined;
    }, 'the marker record');
    const from = lines.findIndex((l) => l.request_id === id);
    expect(lines[from]).toMatchObject({ status_code: 401 });
    expect(lines.slice(from + 1).map((l) => l.status_code)).toEqual([200]); // the marker, nothing between
  });

  it('a client that aborts its upload (reset or close mid-body) is recorded as gone (499), not as a malformed request', async () => {
    const ids: string[] = [];
    for (const how of ['reset', 'close'] as const) {
      const id = `abort-${how}`;
      ids.push(id);
      const seen = up.seen.length;
      await new Promise<void>((resolve) => {
        const s = connect(gw.ports.proxy!, '127.0.0.1', () => {
          s.write(`POST /open/upload HTTP/1.1\r\nHost: x\r\nX-Request-ID: ${id}\r\nContent-Length: 10000000\r\n\r\n`);
          s.write(Buffer.alloc(200_000, 0x61), () => setTimeout(() => (how === 'reset' ? s.resetAndDestroy() : s.end()), 300));
        });
        s.on('error', () => {});
        s.on('close', () => resolve());
      });
      await waitFor(() => readAudit(auditFile).find((l) => l.request_id === id), `the record of the ${how}`);
      expect(up.seen.length).toBe(seen); // the upstream got no complete request
    }
    for (const id of ids) {
      expect(readAudit(auditFile).find((l) => l.request_id === id), id).toMatchObject({ status_code: 499, error: 'client closed the connection' });
    }
  });

  it('an Expect other than 100-continue gets a JSON 417 with its request id, and an audit record', async () => {
    const out = await talk(gw.ports.proxy!, ['POST /open/x HTTP/1.1\r\nHost: x\r\nExpect: foo\r\nX-Request-ID: exp-1\r\nContent-Length: 5\r\n\r\nhello'], answered);
    expect(out).toMatch(/^HTTP\/1\.1 417 /);
    expect(out.toLowerCase()).toContain('x-request-id: exp-1');
    expect(out.toLowerCase()).toContain('content-type: application/json');
    expect(JSON.parse(out.slice(out.indexOf('\r\n\r\n') + 4))).toEqual({ message: 'Expectation Failed: Expect: foo is not supported; send Expect: 100-continue or none', request_id: 'exp-1' });
    const line = await waitFor(() => readAudit(auditFile).find((l) => l.request_id === 'exp-1'), 'the 417 record');
    expect(line).toMatchObject({ status_code: 417, method: 'POST', path: '/open/x' });
  });

  it('a 401 on a keep-alive connection without Expect and with the body sent leaves the connection usable', async () => {
    const out = await talk(gw.ports.proxy!, [head('/ai/v1/chat/completions', chat.length) + chat, 200, 'GET /open/after HTTP/1.1\r\nHost: x\r\n\r\n'], /"url":"\/after"/);
    expect(out).toMatch(/^HTTP\/1\.1 401 /);
    expect(out).toContain('HTTP/1.1 200 ');
  });
});

function readAudit(file: string): Array<Record<string, unknown>> {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

const insecure = new Agent({ connect: { rejectUnauthorized: false } });
const UPGRADE = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

describe('proxy: routing, headers, errors, streaming', () => {
  let up: TestUpstream;
  let gw: GatewayProcess;
  let resetter: Server;
  let resetterConnections = 0;
  let releaseSse: () => void = () => {};
  let sseGate: Promise<void>;
  let releaseHead: () => void = () => {};
  let headGate: Promise<void>;
  let wss: WebSocketServer;
  let wsPort: number;
  let refuser: Server;
  let hopper: Server;
  let floodClosed = false;

  beforeAll(async () => {
    sseGate = new Promise((r) => (releaseSse = r));
    headGate = new Promise((r) => (releaseHead = r));
    up = await startUpstream(async (req, res, body) => {
      if (req.url?.startsWith('/head-first-sse')) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.flushHeaders();
        await headGate; // the first event only after the client has the status
        res.end('data: only\n\n');
        return;
      }
      if (req.url?.startsWith('/flood')) {
        // Writes for as long as anyone reads (backpressure respected); tells when it is cut.
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const chunk = Buffer.alloc(64 * 1024, 0x62);
        const pump = () => {
          while (!res.destroyed && res.write(chunk));
        };
        res.on('drain', pump);
        res.on('close', () => (floodClosed = true));
        pump();
        return;
      }
      if (req.url?.startsWith('/gated-sse')) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: first\n\n');
        await sseGate; // the rest only after the client proved it got the first event
        res.end('data: second\n\n');
        return;
      }
      const { defaultHandler } = await import('./helpers/upstream.js');
      await defaultHandler(req, res, body);
    });
    resetter = createServer();
    resetter.on('connection', (s) => {
      resetterConnections++;
      s.destroy();
    });
    await new Promise<void>((r) => resetter.listen(0, '127.0.0.1', r));
    refuser = createServer((_req, res) => res.end('plain'));
    refuser.on('upgrade', (_req, socket) => {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 10\r\nX-Refused: yes\r\n\r\nno upgrade');
    });
    await new Promise<void>((r) => refuser.listen(0, '127.0.0.1', r));
    hopper = createServer();
    hopper.on('upgrade', (_req, socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade, X-Hop\r\nUpgrade: websocket\r\nX-Hop: secret\r\nX-Kept: yes\r\n\r\n');
      socket.end();
    });
    await new Promise<void>((r) => hopper.listen(0, '127.0.0.1', r));
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((r) => wss.once('listening', r));
    wsPort = (wss.address() as AddressInfo).port;
    wss.on('connection', (sock, req) => {
      sock.send(`hello ${req.headers['x-request-id'] ? 'with-id' : 'no-id'}`);
      sock.on('message', (m) => sock.send(`echo:${m.toString()}`));
    });
    const deadPort = await freePort();
    gw = await startGateway({
      gateway: { max_body_size: '64k', headers_timeout: 1 },
      services: [
        {
          name: 'echo',
          url: up.url,
          routes: [
            { name: 'echo', paths: ['/echo'] },
            { name: 'echo-long', paths: ['/echo/long'], strip_path: false },
            { name: 'keep', paths: ['/keep'], strip_path: false, preserve_host: true },
            { name: 'regex', paths: ['~/re/\\d+$'], strip_path: false },
            { name: 'post-only', paths: ['/m'], methods: ['POST'] },
            { name: 'hosted', paths: ['/h'], hosts: ['api.example.com'] },
            { name: 'secure', paths: ['/secure'], protocols: ['https'] },
            { name: 'gated', paths: ['/gated-sse'], strip_path: false },
            { name: 'head-first', paths: ['/head-first-sse'], strip_path: false },
          ],
        },
        { name: 'based', url: `${up.url}/base`, routes: [{ name: 'based', paths: ['/b'] }] },
        { name: 'public-part', url: `${up.url}/base/public`, routes: [{ name: 'pub', paths: ['/pub'] }] },
        { name: 'dead', url: `http://127.0.0.1:${deadPort}`, retries: 2, routes: [{ name: 'dead', paths: ['/dead'] }] },
        {
          name: 'resetting',
          url: `http://127.0.0.1:${(resetter.address() as AddressInfo).port}`,
          retries: 3,
          routes: [{ name: 'resetting', paths: ['/reset'] }],
        },
        { name: 'slow', url: up.url, read_timeout: 300, routes: [{ name: 'slow', paths: ['/slowsvc'] }] },
        {
          name: 'ws',
          url: `http://127.0.0.1:${wsPort}`,
          routes: [
            { name: 'ws', paths: ['/ws'] },
            { name: 'ws-auth', paths: ['/wsauth'], plugins: [{ name: 'jwt' }] },
          ],
        },
        { name: 'ws-idle', url: `http://127.0.0.1:${wsPort}`, read_timeout: 800, routes: [{ name: 'ws-idle', paths: ['/wsidle'] }] },
        { name: 'ws-refused', url: `http://127.0.0.1:${(refuser.address() as AddressInfo).port}`, routes: [{ name: 'ws-refused', paths: ['/wsno'] }] },
        { name: 'ws-hop', url: `http://127.0.0.1:${(hopper.address() as AddressInfo).port}`, routes: [{ name: 'ws-hop', paths: ['/wshop'] }] },
      ],
    });
  });

  afterAll(async () => {
    releaseSse();
    await gw?.stop();
    await up?.close();
    resetter?.close();
    refuser?.close();
    hopper?.close();
    wss?.close();
  });

  it('answers 404 with the JSON error shape and an X-Request-ID', async () => {
    const res = await request(`${gw.url}/nowhere`);
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const body = (await res.body.json()) as { message: string; request_id: string };
    expect(body.message).toBe('no Route matched with those values');
    expect(body.request_id).toBe(res.headers['x-request-id']);
    expect(body.request_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('strips the matched prefix and sets X-Forwarded-* and X-Request-ID upstream', async () => {
    const res = await request(`${gw.url}/echo/foo?x=1`, { headers: { 'x-request-id': 'abc-123' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-request-id']).toBe('abc-123');
    const seen = (await res.body.json()) as { url: string; headers: Record<string, string> };
    expect(seen.url).toBe('/foo?x=1');
    expect(seen.headers.host).toBe(`127.0.0.1:${up.port}`);
    expect(seen.headers['x-request-id']).toBe('abc-123');
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-host']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-port']).toBe(String(gw.ports.proxy));
  });

  it('replaces an invalid incoming request id', async () => {
    const res = await request(`${gw.url}/echo/`, { headers: { 'x-request-id': 'bad id with spaces' } });
    await res.body.dump();
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('removes hop-by-hop headers both ways and identity headers a client sent', async () => {
    // Raw bytes: HTTP clients refuse to send a custom Connection header list.
    const raw = await rawRequest(
      gw.ports.proxy!,
      'GET /echo/x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close, x-secret\r\nX-Secret: should-not-pass\r\n' +
        'TE: trailers\r\nX-User-ID: admin\r\nX-Roles: ["admin"]\r\nX-Consumer-Username: root\r\n' +
        'X-Authenticated-Scope: everything\r\nX-Workspace-Id: ws-evil\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n',
    );
    const split = raw.indexOf('\r\n\r\n');
    const head = raw.slice(0, split);
    const body = /transfer-encoding: chunked/i.test(head) ? dechunk(raw.slice(split + 4)) : raw.slice(split + 4);
    const seen = JSON.parse(body) as { headers: Record<string, string> };
    expect(seen.headers['x-secret']).toBeUndefined();
    expect(seen.headers.te).toBeUndefined();
    expect(seen.headers['x-user-id']).toBeUndefined();
    expect(seen.headers['x-roles']).toBeUndefined();
    expect(seen.headers['x-consumer-username']).toBeUndefined();
    expect(seen.headers['x-authenticated-scope']).toBeUndefined();
    expect(seen.headers['x-workspace-id']).toBeUndefined();
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1'); // untrusted peer: its XFF is dropped
    expect(head.toLowerCase()).not.toContain('keep-alive: timeout');
    expect(head.toLowerCase()).toContain('x-upstream: yes');
  });

  it('drops headers an upstream may trust as the gateway\'s though tollgate never sets them (Kong\'s groups, path and method overrides, auth-proxy users, client-IP headers)', async () => {
    const spoofed: Record<string, string> = {
      'X-HTTP-Method-Override': 'DELETE',
      'X-HTTP-Method': 'DELETE',
      'X-Method-Override': 'DELETE',
      'X-Forwarded-Method': 'DELETE',
      'X-Forwarded-User': 'admin',
      'X-Forwarded-Email': 'admin@example.com',
      'X-Forwarded-Preferred-Username': 'admin',
      'X-Forwarded-Groups': 'admins',
      'X-Auth-Request-User': 'admin',
      'X-Auth-Request-Email': 'admin@example.com',
      'X-Remote-User': 'admin',
      'Remote-User': 'admin',
      'X-Consumer-Groups': 'admins',
      'X-Authenticated-Groups': 'admins',
      'X-Userinfo': 'eyJzdWIiOiJhZG1pbiJ9',
      'X-Forwarded-Path': '/admin',
      'X-Original-URL': '/admin/delete-all',
      'X-Rewrite-URL': '/admin',
      'True-Client-IP': '10.0.0.1',
      'CF-Connecting-IP': '10.0.0.1',
      'X-Client-IP': '10.0.0.1',
      'X-Kept-Custom': 'yes',
    };
    const res = await request(`${gw.url}/echo/x`, { headers: spoofed });
    const seen = (await res.body.json()) as { headers: Record<string, string> };
    for (const name of Object.keys(spoofed).filter((n) => n !== 'X-Kept-Custom')) expect(seen.headers[name.toLowerCase()], name).toBeUndefined();
    expect(seen.headers['x-kept-custom']).toBe('yes');
    expect(seen.headers['x-real-ip']).toBe('127.0.0.1');
  });

  it('keeps the path with strip_path: false and the Host with preserve_host', async () => {
    const res = await request(`${gw.url}/keep/a`, { headers: { host: 'client.example' } });
    const seen = (await res.body.json()) as { url: string; headers: Record<string, string> };
    expect(seen.url).toBe('/keep/a');
    expect(seen.headers.host).toBe('client.example');
  });

  it('joins the service path and prefers the longest prefix and regex paths', async () => {
    const based = (await (await request(`${gw.url}/b/c`)).body.json()) as { url: string };
    expect(based.url).toBe('/base/c');
    const long = (await (await request(`${gw.url}/echo/long/x`)).body.json()) as { url: string };
    expect(long.url).toBe('/echo/long/x');
    const re = await request(`${gw.url}/re/42`);
    expect(((await re.body.json()) as { url: string }).url).toBe('/re/42');
    const reMiss = await request(`${gw.url}/re/x42`);
    await reMiss.body.dump();
    expect(reMiss.statusCode).toBe(404);
  });

  it('matches methods and hosts', async () => {
    const get = await request(`${gw.url}/m`);
    await get.body.dump();
    expect(get.statusCode).toBe(404);
    const post = await request(`${gw.url}/m`, { method: 'POST', body: 'x' });
    await post.body.dump();
    expect(post.statusCode).toBe(200);
    const hostOk = await request(`${gw.url}/h`, { headers: { host: 'api.example.com' } });
    await hostOk.body.dump();
    expect(hostOk.statusCode).toBe(200);
    const hostBad = await request(`${gw.url}/h`, { headers: { host: 'other.example.com' } });
    await hostBad.body.dump();
    expect(hostBad.statusCode).toBe(404);
  });

  it('normalises dot segments before routing', async () => {
    const res = await request(`${gw.url}/echo/../nowhere`);
    await res.body.dump();
    expect(res.statusCode).toBe(404);
    const ok = await request(`${gw.url}/%65cho/./a`);
    const seen = (await ok.body.json()) as { url: string };
    expect(ok.statusCode).toBe(200);
    expect(seen.url).toBe('/a');
  });

  it('refuses paths that would step out of a route upstream: dot segments after a stripped prefix, raw backslashes, encoded slashes around dot segments, dot segments with path parameters', async () => {
    const status = async (path: string) => {
      const raw = await rawRequest(gw.ports.proxy!, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      return { status: Number(raw.slice(9, 12)), body: raw.slice(raw.indexOf('\r\n\r\n') + 4) };
    };
    // `/pub` is a prefix of `/pub..`: stripped, `..` would make /base/public/../private upstream.
    for (const path of ['/pub../private/x', '/pub%2e%2e/private/x', '/pub.', '/echo/..\\x', '/echo\\..\\nowhere', '/echo/..%2Fx', '/echo/..%5cx', '/echo/x%2F..%2F..', '/pub/..;/private/x', '/pub/%2e%2e;x=1/y', '/pub/.;x/y']) {
      const r = await status(path);
      expect([path, r.status]).toEqual([path, 400]);
      expect(r.body).toContain('"Bad request path"');
    }
    // Still served: a name that merely starts with a dot, and an encoded slash inside a segment.
    const dotted = await request(`${gw.url}/pub.json`);
    expect(((await dotted.body.json()) as { url: string }).url).toBe('/base/public/.json');
    const params = await request(`${gw.url}/echo/a;v=1/b..;c`); // parameters elsewhere are the upstream's business
    expect(((await params.body.json()) as { url: string }).url).toBe('/a;v=1/b..;c');
    const slash = await request(`${gw.url}/echo/org%2Fmodel`);
    expect(((await slash.body.json()) as { url: string }).url).toBe('/org%2Fmodel');
  });

  it('answers 400 (JSON) to a missing, repeated or malformed Host; routes a Host with a trailing dot as without it, and an absolute-form target by its authority', async () => {
    const send = async (head: string) => {
      const raw = await rawRequest(gw.ports.proxy!, `${head}Connection: close\r\n\r\n`);
      return { status: Number(raw.slice(9, 12)), body: raw.slice(raw.indexOf('\r\n\r\n') + 4) };
    };
    const missing = await send('GET /echo/x HTTP/1.1\r\n');
    expect([missing.status, JSON.parse(missing.body).message]).toEqual([400, 'Missing Host header']);
    for (const host of ['a b', 'evil.com/x?', 'user@internal.local', '127.0.0.1, api.example.com']) {
      const r = await send(`GET /echo/x HTTP/1.1\r\nHost: ${host}\r\n`);
      expect([host, r.status, r.body.includes('"Bad Host header"')]).toEqual([host, 400, true]);
    }
    const twice = await send('GET /h HTTP/1.1\r\nHost: other.example.com\r\nHost: api.example.com\r\n');
    expect([twice.status, twice.body.includes('"Bad Host header"')]).toEqual([400, true]);
    expect((await send('GET /echo/x HTTP/1.0\r\n')).status).toBe(200); // HTTP/1.0 needs no Host
    expect((await send('GET /h HTTP/1.1\r\nHost: api.example.com.\r\n')).status).toBe(200);
    expect((await send('GET /echo/x HTTP/1.1\r\nHost: [::1]:8000\r\n')).status).toBe(200);
    // Absolute form (RFC 9112 §3.2.2): its authority replaces Host, for routing and upstream.
    const absolute = await send('GET http://api.example.com/h?x=1 HTTP/1.1\r\nHost: other.example.com\r\n');
    expect(absolute.status).toBe(200);
    expect(absolute.body).toContain('"x-forwarded-host":"api.example.com"');
    expect((await send('GET http://user@api.example.com/h HTTP/1.1\r\nHost: api.example.com\r\n')).status).toBe(400);
  });

  it('answers 501 to a transfer coding other than chunked, and drops a fragment from the target', async () => {
    const raw = await rawRequest(
      gw.ports.proxy!,
      'POST /echo/x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    );
    expect(raw.startsWith('HTTP/1.1 501 ')).toBe(true);
    expect(raw).toContain('Transfer-Encoding other than chunked is not supported');
    const frag = await rawRequest(gw.ports.proxy!, 'GET /echo/x?a=1#frag HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    const split = frag.indexOf('\r\n\r\n');
    const body = /transfer-encoding: chunked/i.test(frag.slice(0, split)) ? dechunk(frag.slice(split + 4)) : frag.slice(split + 4);
    expect((JSON.parse(body) as { url: string }).url).toBe('/x?a=1');
  });

  it('drops identity headers spelled with underscores (X_User_ID is HTTP_X_USER_ID to a CGI upstream)', async () => {
    const raw = await rawRequest(
      gw.ports.proxy!,
      'GET /echo/x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX_User_ID: admin\r\nX_Roles: ["admin"]\r\nx_forwarded_for: 6.6.6.6\r\nX_Custom_Thing: kept\r\n\r\n',
    );
    const split = raw.indexOf('\r\n\r\n');
    const body = /transfer-encoding: chunked/i.test(raw.slice(0, split)) ? dechunk(raw.slice(split + 4)) : raw.slice(split + 4);
    const seen = JSON.parse(body) as { headers: Record<string, string> };
    expect(seen.headers.x_user_id).toBeUndefined();
    expect(seen.headers.x_roles).toBeUndefined();
    expect(seen.headers.x_forwarded_for).toBeUndefined();
    expect(seen.headers.x_custom_thing).toBe('kept');
  });

  it('answers Expect: 100-continue itself and forwards the body without it', async () => {
    const body = JSON.stringify({ hello: 'world' });
    const raw = await rawRequest(
      gw.ports.proxy!,
      `POST /echo/x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n${body}`,
    );
    expect(raw.startsWith('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 ')).toBe(true);
    const final = raw.slice(raw.indexOf('\r\n\r\n') + 4);
    const split = final.indexOf('\r\n\r\n');
    const text = /transfer-encoding: chunked/i.test(final.slice(0, split)) ? dechunk(final.slice(split + 4)) : final.slice(split + 4);
    const seen = JSON.parse(text) as { headers: Record<string, string>; body?: string };
    expect(seen.headers.expect).toBeUndefined();
    expect(text).toContain('world');
  });

  it('answers 426 to plain HTTP on an https-only route and serves it over TLS 1.3', async () => {
    // A client's own X-Forwarded-Proto is no TLS (no trusted_proxies here).
    const forged = await request(`${gw.url}/secure`, { headers: { 'x-forwarded-proto': 'https' } });
    expect(forged.statusCode).toBe(426);
    await forged.body.dump();
    const res = await request(`${gw.url}/secure`);
    expect(res.statusCode).toBe(426);
    expect(((await res.body.json()) as { message: string }).message).toBe('Please use HTTPS protocol');
    const tls = await request(`${gw.tlsUrl}/secure/x`, { dispatcher: insecure });
    const seen = (await tls.body.json()) as { headers: Record<string, string> };
    expect(tls.statusCode).toBe(200);
    expect(seen.headers['x-forwarded-proto']).toBe('https');
  });

  it('refuses bodies over max_body_size with 413, declared or chunked', async () => {
    const big = Buffer.alloc(70 * 1024, 'a');
    const declared = await request(`${gw.url}/echo/up`, { method: 'POST', body: big });
    expect(declared.statusCode).toBe(413);
    expect(((await declared.body.json()) as { message: string }).message).toBe('Request size limit exceeded');
    async function* chunks() {
      for (let i = 0; i < 70; i++) yield Buffer.alloc(1024, 'b');
    }
    const chunked = await request(`${gw.url}/echo/up`, { method: 'POST', body: Readable.from(chunks()) });
    expect(chunked.statusCode).toBe(413);
    await chunked.body.dump();
    // A length beyond 2^53 - 1 is refused at once too (not rounded and sent on upstream).
    const seenBefore = up.seen.length;
    const huge = await rawRequest(gw.ports.proxy!, 'POST /echo/up HTTP/1.1\r\nHost: x\r\nContent-Length: 9007199254740993\r\n\r\nabc');
    expect(huge).toMatch(/^HTTP\/1\.1 413 /);
    expect(up.seen.length).toBe(seenBefore);
    const ok = await request(`${gw.url}/echo/up`, { method: 'POST', body: Buffer.alloc(60 * 1024, 'c') });
    const seen = (await ok.body.json()) as { body: string };
    expect(seen.body.length).toBe(60 * 1024);
  });

  it('answers 502 for a dead upstream without leaking internals', async () => {
    const res = await request(`${gw.url}/dead/x`);
    expect(res.statusCode).toBe(502);
    const body = (await res.body.json()) as { message: string; request_id: string };
    expect(body).toEqual({ message: 'An invalid response was received from the upstream server', request_id: res.headers['x-request-id'] });
    expect(JSON.stringify(body)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1/);
  });

  it('retries connection failures of idempotent requests only', async () => {
    resetterConnections = 0;
    const get = await request(`${gw.url}/reset/x`);
    await get.body.dump();
    expect(get.statusCode).toBe(502);
    expect(resetterConnections).toBe(4); // first try + retries: 3
    resetterConnections = 0;
    const post = await request(`${gw.url}/reset/x`, { method: 'POST', body: 'payload' });
    await post.body.dump();
    expect(post.statusCode).toBe(502);
    expect(resetterConnections).toBe(1);
  });

  it('a client that stops reading a streamed answer is cut after read_timeout, and so is the upstream exchange', async () => {
    floodClosed = false;
    const client = connect(gw.ports.proxy!, '127.0.0.1');
    let head = '';
    client.once('data', (d: Buffer) => {
      head = d.toString('latin1', 0, 12);
      client.pause(); // reads nothing more: the kernel buffers fill, the gateway must stop writing
    });
    const closed = new Promise<void>((r) => client.on('close', () => r()));
    client.on('error', () => {});
    client.write('GET /slowsvc/flood HTTP/1.1\r\nHost: x\r\n\r\n');
    // The slow service's read_timeout is 300 ms; without the cut the upstream writes for ever.
    await waitFor(() => floodClosed, 'the upstream exchange cut');
    expect(head).toBe('HTTP/1.1 200');
    client.resume(); // what the kernel holds drains, then the connection's end shows
    await closed;
  });

  it('answers 504 after read_timeout and never retries a timeout', async () => {
    const before = up.seen.length;
    const res = await request(`${gw.url}/slowsvc/slow?ms=1500`);
    expect(res.statusCode).toBe(504);
    expect(((await res.body.json()) as { message: string }).message).toBe('The upstream server is timing out');
    await new Promise((r) => setTimeout(r, 1700));
    expect(up.seen.length - before).toBe(1);
  });

  it('streams SSE: the first event reaches the client before the upstream finishes', async () => {
    const res = await request(`${gw.url}/gated-sse`);
    expect(res.headers['content-type']).toBe('text/event-stream');
    const reader = res.body[Symbol.asyncIterator]();
    const first = await reader.next();
    expect(Buffer.from(first.value as Buffer).toString()).toBe('data: first\n\n');
    releaseSse(); // only now may the upstream send the rest
    let rest = '';
    for (let n = await reader.next(); !n.done; n = await reader.next()) rest += Buffer.from(n.value as Buffer).toString();
    expect(rest).toBe('data: second\n\n');
  });

  it('sends a streamed answer\'s status before its first event when the upstream does', async () => {
    const res = await request(`${gw.url}/head-first-sse`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream');
    releaseHead();
    expect(await res.body.text()).toBe('data: only\n\n');
  }, 10_000);

  it('answers 431 to an oversized header block', async () => {
    const res = await request(`${gw.url}/echo/x`, { headers: { 'x-big': 'a'.repeat(20 * 1024) } });
    expect(res.statusCode).toBe(431);
    const body = (await res.body.json()) as { message: string; request_id: string };
    expect(body.message).toBe('Request header fields too large');
    expect(body.request_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers['x-request-id']).toBe(body.request_id); // SPEC §4: every response carries one
  });

  it('disconnects a client that never finishes its header block (slowloris), counted meanwhile as reading', async () => {
    const reading = async () => ((await (await request(`${gw.statusUrl}/status`)).body.json()) as { server: { connections_reading: number } }).server.connections_reading;
    const before = await reading();
    const socket = connect(gw.ports.proxy!, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write('GET /echo/x HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n');
    await waitFor(async () => (await reading()) === before + 1 || undefined, 'the slow client counted as reading');
    const closed = await new Promise<boolean>((resolve) => {
      socket.once('close', () => resolve(true));
      setTimeout(() => resolve(false), 10_000);
    });
    expect(closed).toBe(true);
  });

  it('proxies WebSocket upgrades with the request id upstream', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${gw.ports.proxy}/ws/chat`);
    const messages: string[] = [];
    await new Promise<void>((resolve, reject) => {
      ws.on('message', (m) => {
        messages.push(m.toString());
        if (messages.length === 1) ws.send('ping');
        if (messages.length === 2) resolve();
      });
      ws.on('error', reject);
    });
    ws.close();
    expect(messages).toEqual(['hello with-id', 'echo:ping']);
  });

  it('closes a WebSocket tunnel that carried nothing either way for the service\'s read_timeout; traffic keeps it open', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${gw.ports.proxy}/wsidle/chat`);
    let closedAt = 0;
    ws.on('close', () => (closedAt = Date.now()));
    await new Promise<void>((resolve, reject) => {
      ws.once('message', () => resolve());
      ws.on('error', reject);
    });
    // Messages every 200 ms for 1.6 s, twice the 800 ms read_timeout: the tunnel stays open.
    for (let i = 0; i < 8; i++) {
      ws.send(`m${i}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(closedAt).toBe(0);
    await waitFor(async () => closedAt !== 0 || undefined, 'the idle tunnel closed', 10_000);
  });

  it('tunnels only WebSocket: an h2c (or any other) Upgrade is served as a plain request, then the connection closes', async () => {
    const raw = await rawRequest(
      gw.ports.proxy!,
      'GET /echo/h2c HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\nX-User-ID: admin\r\n\r\n',
    );
    expect(raw).toMatch(/^HTTP\/1\.1 200 /);
    expect(raw.toLowerCase()).toContain('connection: close');
    const seen = up.seen.at(-1)!;
    expect(seen.url).toBe('/h2c');
    for (const h of ['upgrade', 'http2-settings', 'x-user-id']) expect(seen.headers, h).not.toHaveProperty(h);
    // Only headers parsed as the request's: nothing after them travels as a tunnel.
    const custom = await rawRequest(gw.ports.proxy!, 'GET /echo/custom HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: foo/1\r\n\r\n');
    expect(custom).toMatch(/^HTTP\/1\.1 200 /);
    const withBody = await rawRequest(gw.ports.proxy!, 'POST /echo/x HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: foo/1\r\nContent-Length: 3\r\n\r\nabc');
    expect(withBody).toMatch(/^HTTP\/1\.1 501 /);
  });

  // rawRequest resolves when the gateway ends the connection: a hang fails by timeout.
  it('relays an upstream that refuses the upgrade, then closes the connection; the request is counted in and out', async () => {
    const status = async () => (await (await request(`${gw.statusUrl}/status`)).body.json()) as { server: { total_requests: number; connections_writing: number } };
    const before = await status();
    const raw = await rawRequest(gw.ports.proxy!, `GET /wsno/x HTTP/1.1\r\nHost: 127.0.0.1\r\n${UPGRADE}\r\n`);
    const after = await waitFor(async () => {
      const s = await status();
      return s.server.connections_writing === 0 ? s : undefined;
    }, 'no request in flight');
    expect(after.server.total_requests - before.server.total_requests).toBe(1);
    expect(raw.startsWith('HTTP/1.1 403 ')).toBe(true);
    expect(raw.toLowerCase()).toContain('x-refused: yes');
    expect(raw.toLowerCase()).toContain('connection: close');
    expect(raw.endsWith('no upgrade')).toBe(true);
  });

  it('answers a refused upgrade (401) with Connection: close and closes the socket', async () => {
    const raw = await rawRequest(gw.ports.proxy!, `GET /wsauth/x HTTP/1.1\r\nHost: 127.0.0.1\r\n${UPGRADE}\r\n`);
    expect(raw.startsWith('HTTP/1.1 401 ')).toBe(true);
    expect(raw.toLowerCase()).toContain('connection: close');
    expect(raw).toContain('"request_id"');
  });

  it("drops the headers an upstream's 101 names in Connection", async () => {
    const raw = await rawRequest(gw.ports.proxy!, `GET /wshop/x HTTP/1.1\r\nHost: 127.0.0.1\r\n${UPGRADE}\r\n`);
    const head = raw.slice(0, raw.indexOf('\r\n\r\n')).toLowerCase();
    expect(head.startsWith('http/1.1 101 ')).toBe(true);
    expect(head).toContain('x-kept: yes');
    expect(head).toContain('upgrade: websocket');
    expect(head).not.toContain('x-hop');
  });
});

describe('proxy: trusted proxies', () => {
  let up: TestUpstream;
  let gw: GatewayProcess;
  beforeAll(async () => {
    up = await startUpstream();
    gw = await startGateway({
      gateway: { trusted_proxies: ['127.0.0.1/32'] },
      services: [{ name: 'echo', url: up.url, routes: [{ name: 'echo', paths: ['/'] }, { name: 'secure', paths: ['/secure'], protocols: ['https'] }] }],
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  it('takes the right-most untrusted X-Forwarded-For entry from a trusted peer', async () => {
    const res = await request(`${gw.url}/x`, { headers: { 'x-forwarded-for': '203.0.113.9, 198.51.100.7', 'x-forwarded-proto': 'https' } });
    const seen = (await res.body.json()) as { headers: Record<string, string> };
    expect(seen.headers['x-real-ip']).toBe('198.51.100.7');
    expect(seen.headers['x-forwarded-for']).toBe('203.0.113.9, 198.51.100.7, 127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('https');
  });

  it('an https-only route serves plain HTTP from a trusted proxy that terminated TLS (X-Forwarded-Proto: https)', async () => {
    const behind = await request(`${gw.url}/secure/x`, { headers: { 'x-forwarded-proto': 'https' } });
    expect(behind.statusCode).toBe(200);
    expect(((await behind.body.json()) as { headers: Record<string, string> }).headers['x-forwarded-proto']).toBe('https');
    const plain = await request(`${gw.url}/secure/x`);
    expect(plain.statusCode).toBe(426);
    await plain.body.dump();
  });

  it('an HTTP/1.0 request without Host gets no empty X-Forwarded-Host upstream', async () => {
    const raw = await rawRequest(gw.ports.proxy!, 'GET /x HTTP/1.0\r\n\r\n');
    expect(raw).toMatch(/^HTTP\/1\.[01] 200/);
    const seen = up.seen[up.seen.length - 1]!;
    expect(seen.headers).not.toHaveProperty('x-forwarded-host');
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('forwards every header of a request under max_header_size, however many (Node keeps 1,000 by default)', async () => {
    const filler: Record<string, string> = {};
    for (let i = 0; i < 1500; i++) filler[`a${i}`] = '1';
    const res = await request(`${gw.url}/x`, { headers: { ...filler, 'x-last': 'seen' } });
    const seen = (await res.body.json()) as { headers: Record<string, string> };
    expect(res.statusCode).toBe(200);
    expect(seen.headers['a1499']).toBe('1');
    expect(seen.headers['x-last']).toBe('seen');
  });

  it('reads an entry with a port (ip:port, [v6]:port) as its address, IPv6 in canonical form', async () => {
    const realIp = async (xff: string) => ((await (await request(`${gw.url}/x`, { headers: { 'x-forwarded-for': xff } })).body.json()) as { headers: Record<string, string> }).headers['x-real-ip'];
    expect(await realIp('203.0.113.9:4711')).toBe('203.0.113.9');
    expect(await realIp('[2001:DB8:0:0::1]:443')).toBe('2001:db8::1');
    expect(await realIp('::FFFF:198.51.100.7')).toBe('198.51.100.7');
    expect(await realIp('not-an-address')).toBe('127.0.0.1'); // garbage: the peer itself
  });
});

/** One connection: writes the parts with pauses, collects everything until `until` matches or the gateway closes. */
function talk(port: number, parts: Array<string | Buffer | number>, until: RegExp, timeoutMs = 8000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let out = '';
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(out);
    };
    const timer = setTimeout(done, timeoutMs);
    socket.on('data', (d: Buffer) => {
      out += d.toString('latin1');
      if (until.test(out)) done();
    });
    socket.on('close', done);
    socket.on('error', done);
    void (async () => {
      for (const p of parts) {
        if (typeof p === 'number') await new Promise((r) => setTimeout(r, p));
        else if (!socket.destroyed) socket.write(p);
      }
    })();
  });
}



function dechunk(s: string): string {
  let out = '';
  let i = 0;
  for (;;) {
    const eol = s.indexOf('\r\n', i);
    const size = parseInt(s.slice(i, eol), 16);
    if (!size) return out;
    out += s.slice(eol + 2, eol + 2 + size);
    i = eol + 2 + size + 2;
  }
}

describe('proxy: write_timeout', () => {
  let deaf: Server;
  let gw: GatewayProcess;
  beforeAll(async () => {
    deaf = createServer((req) => req.pause()); // takes the headers, never reads the body, never answers
    await new Promise<void>((r) => deaf.listen(0, '127.0.0.1', r));
    gw = await startGateway({
      gateway: { max_body_size: '64m' },
      services: [{ name: 'deaf', url: `http://127.0.0.1:${(deaf.address() as AddressInfo).port}`, write_timeout: 500, routes: [{ name: 'deaf', paths: ['/deaf'] }] }],
    });
  });
  afterAll(async () => {
    await gw?.stop();
    deaf?.closeAllConnections();
    deaf?.close();
  });

  it('answers 504 when a streamed body makes no progress for write_timeout (the upstream stopped reading)', async () => {
    async function* flood() {
      for (let i = 0; i < 48; i++) yield Buffer.alloc(1024 * 1024, 'w'); // more than the socket buffers hold
    }
    const res = await request(`${gw.url}/deaf/upload`, { method: 'POST', body: Readable.from(flood()), headers: { 'content-length': String(48 * 1024 * 1024) } });
    expect(res.statusCode).toBe(504);
    expect(((await res.body.json()) as { message: string }).message).toBe('The upstream server is timing out');
  });
});

describe('proxy: request bodies the upstream or the client leave unfinished', () => {
  let up: Server;
  let gw: GatewayProcess;
  let auditFile: string;
  beforeAll(async () => {
    // Answers 403 to /early at once, without reading the body; echoes the path otherwise, after a pause on /slow.
    up = createServer((req, res) => {
      if (req.url?.startsWith('/early')) {
        res.writeHead(403, { 'content-type': 'application/json', 'content-length': '2' }).end('{}');
        return;
      }
      if (req.url?.startsWith('/204cl')) {
        res.writeHead(204, { 'content-length': '5' }).end(); // a length a 204 must not carry
        return;
      }
      if (req.url?.startsWith('/304cl')) {
        res.writeHead(304, { etag: '"v1"', 'content-length': '8' }).end(); // the length of what it stands for
        return;
      }
      if (req.url?.startsWith('/tegzip')) {
        // Node chunks any Transfer-Encoding ending in chunked; the bytes inside are gzip.
        res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'gzip, chunked' }).end(gzipSync('{"ok":true}'));
        return;
      }
      if (req.url?.startsWith('/stall')) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
        res.flushHeaders(); // the head, then nothing
        return;
      }
      req.resume();
      req.on('end', () => {
        const send = () => res.writeHead(200, { 'content-type': 'text/plain' }).end(`ok ${req.url}`);
        if (req.url?.startsWith('/slow')) setTimeout(send, 800);
        else send();
      });
    });
    await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
    const port = (up.address() as AddressInfo).port;
    auditFile = join(mkdtempSync(join(tmpdir(), 'tg-proxy-audit-')), 'audit.log');
    gw = await startGateway({
      services: [{ name: 's', url: `http://127.0.0.1:${port}`, write_timeout: 1000, read_timeout: 1500, routes: [{ name: 'r', paths: ['/'] }] }],
      plugins: [{ name: 'audit-log', config: { path: auditFile } }],
    });
  });
  afterAll(async () => {
    await gw?.stop();
    up.closeAllConnections();
    await new Promise((r) => up.close(r));
  });

  const converse = (parts: Array<string | Buffer | number>, until: RegExp, timeoutMs?: number) => talk(gw.ports.proxy!, parts, until, timeoutMs);

  it('an upstream that answers before reading a large upload leaves the keep-alive connection usable', async () => {
    const size = 900_000;
    const out = await converse(
      [`POST /early HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`, Buffer.alloc(1024, 0x61), 500, Buffer.alloc(size - 1024, 0x61), 'GET /after HTTP/1.1\r\nHost: x\r\n\r\n'],
      /ok \/after/,
    );
    expect(out).toMatch(/^HTTP\/1\.1 403/);
    expect(out).toContain('ok /after');
  });

  it('a small body that stops arriving gets 504 after write_timeout, not a connection held forever', async () => {
    const out = await converse(['POST /x HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n0123456789'], /\r\n\r\n\{.*\}/s);
    expect(out).toMatch(/^HTTP\/1\.1 504/);
    expect(out).toContain('The upstream server is timing out');
  });

  it('a 304 that declares a Content-Length reaches the client (RFC 9110 §8.6), and the connection stays usable', async () => {
    const out = await converse(['GET /304cl HTTP/1.1\r\nHost: x\r\n\r\n', 300, 'GET /after HTTP/1.1\r\nHost: x\r\n\r\n'], /ok \/after/);
    expect(out).toMatch(/^HTTP\/1\.1 304 Not Modified\r\n/);
    expect(out.toLowerCase()).toContain('etag: "v1"');
    expect(out).toContain('ok /after');
  });

  it('a chunked body the parser refuses mid-request: that request gets the 400 and its record says why', async () => {
    const out = await converse(['POST /broken HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n', 200, 'zz\r\n'], /\r\n\r\n\{[^]*\}/);
    expect(out).toMatch(/^HTTP\/1\.1 400 /);
    const id = /x-request-id: (\S+)/i.exec(out)![1]!;
    const line = await waitFor(() => readAudit(auditFile).find((l) => l.request_id === id), 'the record');
    expect(line).toMatchObject({ status_code: 400, error: 'malformed request (HPE_INVALID_CHUNK_SIZE)' });
  });

  it('bytes after a Connection: close request do not cost that request its answer', async () => {
    const out = await converse(['POST /closing HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhelloGET /after HTTP/1.1\r\nHost: x\r\n\r\n'], /ok \/closing/);
    expect(out).toMatch(/^HTTP\/1\.1 200 /);
    expect(out).toContain('ok /closing');
  });

  it('CONNECT gets a JSON 405 and an audit record (a reverse proxy, not a forward one)', async () => {
    const out = await converse(['CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n'], /\r\n\r\n\{[^]*\}/);
    expect(out).toMatch(/^HTTP\/1\.1 405 /);
    const id = /x-request-id: (\S+)/i.exec(out)![1]!;
    expect(JSON.parse(out.slice(out.indexOf('\r\n\r\n') + 4))).toEqual({ message: 'CONNECT is not supported: this is a reverse proxy, not a forward proxy', request_id: id });
    const line = await waitFor(() => readAudit(auditFile).find((l) => l.request_id === id), 'the CONNECT record');
    expect(line).toMatchObject({ method: 'CONNECT', status_code: 405 });
  });

  it('a 204 that declares a Content-Length reaches the client without it (RFC 9110 §8.6), and the connection stays usable', async () => {
    const out = await converse(['GET /204cl HTTP/1.1\r\nHost: x\r\n\r\n', 300, 'GET /after HTTP/1.1\r\nHost: x\r\n\r\n'], /ok \/after/);
    expect(out).toMatch(/^HTTP\/1\.1 204 No Content\r\n/);
    expect(out.slice(0, out.indexOf('\r\n\r\n')).toLowerCase()).not.toContain('content-length');
    expect(out).toContain('ok /after');
  });

  it('an upstream Transfer-Encoding other than chunked (gzip, chunked) gets a 502, not compressed bytes labelled as plain', async () => {
    const out = await converse(['GET /tegzip HTTP/1.1\r\nHost: x\r\n\r\n', 300, 'GET /after HTTP/1.1\r\nHost: x\r\n\r\n'], /ok \/after/);
    expect(out).toMatch(/^HTTP\/1\.1 502/);
    expect(out).toContain('An invalid response was received from the upstream server');
    expect(out).toContain('ok /after');
    const record = await waitFor(() => readAudit(auditFile).find((r) => r.path === '/tegzip'), 'the audit record of /tegzip');
    expect(record).toMatchObject({ status_code: 502, error: 'upstream sent a Transfer-Encoding other than chunked' });
  });

  it('an upstream that sends its head and then stalls gets the client a 504, not a cut connection', async () => {
    const out = await converse(['GET /stall HTTP/1.1\r\nHost: x\r\n\r\n'], /\r\n\r\n\{.*\}/s);
    expect(out).toMatch(/^HTTP\/1\.1 504/);
  });

  it('a 413 for a huge declared body closes the connection instead of reading the body for nothing', async () => {
    const socket = connect(gw.ports.proxy!, '127.0.0.1');
    let out = '';
    socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
    socket.on('error', () => undefined);
    await new Promise((r) => socket.once('connect', r));
    socket.write('POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n\r\n');
    // Keep sending, as a client uploading 10 GB would; the gateway must end the connection.
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const pump = setInterval(() => {
      if (!socket.destroyed) socket.write(chunk);
    }, 5);
    const closed = await new Promise<boolean>((resolve) => {
      socket.once('close', () => resolve(true));
      setTimeout(() => resolve(false), 5000);
    });
    clearInterval(pump);
    socket.destroy();
    expect(out).toMatch(/^HTTP\/1\.1 413/);
    expect(out.toLowerCase()).toContain('connection: close');
    expect(closed).toBe(true);
  });

  it('a pipelined request that cannot be parsed while the one before is answered closes the connection instead of answering in its place', async () => {
    const out = await converse(['GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /x HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n'], /$^/, 3000);
    expect(out).not.toContain('400 Bad Request');
  });
});

describe('proxy: upstream_keepalive is the keep-alive pool, not a cap on concurrent requests', () => {
  let up: Server;
  let gw: GatewayProcess;
  const held: Array<import('node:http').ServerResponse> = [];
  beforeAll(async () => {
    up = createServer((req, res) => {
      if (req.url === '/hold') {
        // A stream that stays open (an MCP GET stream, a long generation).
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(': open\n\n');
        held.push(res);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end('quick');
    });
    await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
    gw = await startGateway({
      gateway: { upstream_keepalive: 2 },
      services: [{ name: 's', url: `http://127.0.0.1:${(up.address() as AddressInfo).port}`, routes: [{ name: 'r', paths: ['/'] }] }],
    });
  });
  afterAll(async () => {
    for (const r of held) r.end();
    await gw?.stop();
    up.closeAllConnections();
    await new Promise((r) => up.close(r));
  });

  it('more open streams than upstream_keepalive leave the service answering; connections beyond it close once idle', async () => {
    const agent = new Agent({ connections: 10 });
    const streams = await Promise.all([1, 2, 3, 4].map(() => request(`${gw.url}/hold`, { dispatcher: agent, headersTimeout: 5000 })));
    expect(streams.map((s) => s.statusCode)).toEqual([200, 200, 200, 200]);
    const quick = await request(`${gw.url}/quick`, { dispatcher: agent, headersTimeout: 5000, bodyTimeout: 5000 });
    expect(quick.statusCode).toBe(200);
    expect(await quick.body.text()).toBe('quick');
    for (const r of held.splice(0)) r.end();
    await Promise.all(streams.map((s) => s.body.dump()));
    const open = () => new Promise<number>((r) => up.getConnections((_e, n) => r(n)));
    expect(await open()).toBeGreaterThan(2);
    // The two kept-alive connections stay; the ones opened beyond them close after 4 s idle.
    await waitFor(async () => (await open()) <= 2, 'the connections beyond upstream_keepalive closed', 10_000);
    await agent.close();
  });
});

describe('proxy: upstream connect timeouts, and a 1xx the upstream was not asked for', () => {
  let gw: GatewayProcess;
  let stuck: ChildProcess;
  const fillers: Socket[] = [];
  let continuer: Server;
  let continuerConnections = 0;

  beforeAll(async () => {
    // A listener that never accepts (its process blocks): once its accept queue is full the
    // kernel drops further SYNs, so a connect to it times out, as to a blackholed host.
    stuck = spawn(process.execPath, ['-e', "const s=require('net').createServer().listen({port:0,host:'127.0.0.1',backlog:1},()=>{process.stdout.write(String(s.address().port)+'\\n');Atomics.wait(new Int32Array(new SharedArrayBuffer(4)),0,0)})"], { stdio: ['ignore', 'pipe', 'inherit'] });
    const stuckPort = Number(await new Promise<string>((r) => stuck.stdout!.once('data', (d: Buffer) => r(d.toString().trim()))));
    for (let i = 0; i < 8; i++) fillers.push(connect(stuckPort, '127.0.0.1').on('error', () => {}));
    continuer = createServer();
    continuer.on('connection', (s) => {
      continuerConnections++;
      s.once('data', () => s.end('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    });
    await new Promise<void>((r) => continuer.listen(0, '127.0.0.1', r));
    gw = await startGateway({
      services: [
        { name: 'blackholed', url: `http://127.0.0.1:${stuckPort}`, connect_timeout: 500, retries: 1, routes: [{ name: 'blackholed', paths: ['/bh'] }] },
        { name: 'continuer', url: `http://127.0.0.1:${(continuer.address() as AddressInfo).port}`, retries: 5, routes: [{ name: 'continuer', paths: ['/cont'] }] },
      ],
    });
  });
  afterAll(async () => {
    await gw?.stop();
    for (const s of fillers) s.destroy();
    stuck?.kill('SIGKILL');
    continuer?.close();
  });

  it('a connect that times out is 504 (the upstream is timing out), after the retries', async () => {
    const res = await request(`${gw.url}/bh/x`);
    expect(res.statusCode).toBe(504);
    expect(await res.body.json()).toEqual({ message: 'The upstream server is timing out', request_id: res.headers['x-request-id'] });
  });

  it('an answer undici cannot take (an unasked 100 Continue) is a 502 sent once, not re-sent `retries` times', async () => {
    continuerConnections = 0;
    const res = await request(`${gw.url}/cont/x`);
    await res.body.dump();
    expect(res.statusCode).toBe(502);
    expect(continuerConnections).toBe(1);
  });
});
