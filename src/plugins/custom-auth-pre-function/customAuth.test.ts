import { cacheLifetime } from './handler.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { Client, request } from 'undici';
import { startGateway, type GatewayProcess } from '../../../test/helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../../../test/helpers/upstream.js';
import { startAuthService, type FakeAuthService } from '../../../test/helpers/authService.js';
import { bearer, rsaPair, seedToken, type RsaPair } from '../../../test/helpers/jwt.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: { headers: Record<string, string>; message: string; request_id: string };
  id: string;
}

async function call(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  const res = await request(url, { headers, method });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body: JSON.parse(text) as Answer['body'], id: String(res.headers['x-request-id']) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('custom-auth-pre-function, several auth plugins on a route, access-control', () => {
  let up: TestUpstream;
  let auth: FakeAuthService;
  let gw: GatewayProcess;
  let key: RsaPair;

  beforeAll(async () => {
    up = await startUpstream();
    auth = await startAuthService();
    key = rsaPair(2048);
    const pre = (config: Record<string, unknown> = {}) => ({ name: 'custom-auth-pre-function', config: { auth_service_url: auth.url, ...config } });
    const route = (name: string, plugins: unknown[]) => ({ name, paths: [`/${name}`], plugins });
    gw = await startGateway({
      services: [
        {
          name: 'echo',
          url: up.url,
          routes: [
            // the seed's config, plus retries and a short timeout
            route('auth', [pre({ auth_service_timeout: '500ms', ssl_verify: false, retry_count: 2, circuit_breaker: { failure_threshold: 100 } })]),
            route('breaker', [pre({ retry_count: 0, circuit_breaker: { failure_threshold: 3, reset_timeout: 1 } })]),
            route('cached', [pre({ cache_ttl: 60 })]),
            route('get', [pre({ method: 'GET' })]),
            route('multi', [{ name: 'jwt' }, pre()]),
            route('scoped', [pre(), { name: 'access-control', config: { required_scopes: ['api.write'] } }]),
            route('roles', [pre(), { name: 'access-control', config: { allowed_roles: ['admin', 'ops'] } }]),
            route('nobody', [{ name: 'access-control', config: { allowed_roles: ['admin'] } }]),
          ],
        },
      ],
      consumers: [{ username: 'admin', jwt_secrets: [{ key: 'admin-key', algorithm: 'RS256', rsa_public_key: key.publicPem }] }],
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await Promise.all([up?.close(), auth?.close()]);
  });

  it('sends the service the path as routed and forwarded, not as written (`/x/../admin` is `/admin`)', async () => {
    for (const written of ['/auth/x/../admin/secret', '/auth//admin/secret', '/auth/./admin/secret', '/auth/%61dmin/secret', '/auth/x/%2e%2e/admin/secret']) {
      // A dispatcher sends the path verbatim (a URL would resolve the dot segments first).
      const client = new Client(gw.url);
      const res = await client.request({ method: 'GET', path: `${written}?q=1`, headers: bearer('allow-u1') });
      const id = String(res.headers['x-request-id']);
      const body = (await res.body.json()) as { url: string };
      expect(res.statusCode, written).toBe(200);
      expect(body.url, written).toBe('/admin/secret?q=1'); // what the upstream got (strip_path)
      const [seen] = auth.callsFor(id);
      expect(seen!.headers['x-forwarded-uri'], written).toBe('/auth/admin/secret?q=1');
      expect((JSON.parse(seen!.body) as { path: string }).path, written).toBe('/auth/admin/secret');
      await client.close();
    }
  });

  it('allows on 2xx, sends the SPEC §5 request, and maps the answer to the identity headers', async () => {
    const res = await call(`${gw.url}/auth/x?y=1`, { ...bearer('allow-u1-api.read'), cookie: 'session=secret', 'x-user-id': 'spoofed' }, 'GET');
    expect(res.status).toBe(200);
    const h = res.body.headers;
    expect(h['x-user-id']).toBe('u1');
    expect(h['x-client-id']).toBe('svc-client');
    expect(h['x-username']).toBe('u1-name');
    expect(h['x-enterprise-id']).toBe('ent-1');
    expect(h['x-roles']).toBe('["user"]');
    expect(h['x-authenticated-scope']).toBe('api.read');
    const [seen] = auth.callsFor(res.id);
    expect(seen!.method).toBe('POST');
    expect(seen!.headers.authorization).toBe('Bearer allow-u1-api.read');
    expect(seen!.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen!.headers['x-forwarded-method']).toBe('GET');
    expect(seen!.headers['x-forwarded-uri']).toBe('/auth/x?y=1');
    const body = JSON.parse(seen!.body) as { method: string; path: string; headers: Record<string, string> };
    expect(body.method).toBe('GET');
    expect(body.path).toBe('/auth/x');
    expect(body.headers.authorization).toBe('Bearer allow-u1-api.read');
    expect(body.headers.cookie).toBeUndefined();
  });

  it("the headers in the body are the ones the upstream would get: the client's identity and forwarding claims are not among them", async () => {
    const forged = { 'x-user-id': 'root', X_Roles: '["admin"]', 'x-workspace-id': 'ws-victim', 'x-forwarded-for': '6.6.6.6', 'x-forwarded-method': 'DELETE', 'x-forwarded-uri': '/evil', 'x-kept': 'yes' };
    const res = await call(`${gw.url}/auth/x`, { ...bearer('allow-u1-api.read'), ...forged });
    const [seen] = auth.callsFor(res.id);
    const body = JSON.parse(seen!.body) as { headers: Record<string, string> };
    for (const name of ['x-user-id', 'x_roles', 'x-workspace-id', 'x-forwarded-method', 'x-forwarded-uri']) expect(body.headers[name], name).toBeUndefined();
    expect(body.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(body.headers['x-kept']).toBe('yes');
    expect(body.headers.host).toBe(new URL(gw.url).host);
  });

  it('accepts camelCase answers; GET method sends no body', async () => {
    const camel = await call(`${gw.url}/get`, bearer('camel-u2'));
    expect(camel.status).toBe(200);
    expect(camel.body.headers['x-user-id']).toBe('u2');
    expect(camel.body.headers['x-client-id']).toBe('camel-client');
    expect(camel.body.headers['x-enterprise-id']).toBe('ent-2');
    expect(camel.body.headers['x-roles']).toBe('["user","ops"]');
    const [seen] = auth.callsFor(camel.id);
    expect(seen!.method).toBe('GET');
    expect(seen!.body).toBe('');
  });

  it('denies with the service status (401 invalid_token / 403) and a gateway body without its details', async () => {
    const denied = await call(`${gw.url}/auth`, bearer('deny'));
    expect(denied.status).toBe(401);
    expect(denied.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    expect(denied.body).toEqual({ message: 'Unauthorized', request_id: denied.id });
    const forbidden = await call(`${gw.url}/auth`, bearer('forbid'));
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.message).toBe('You cannot consume this service');
  });

  it('does not call the service without an Authorization header (401, no error code)', async () => {
    const res = await call(`${gw.url}/auth`);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(auth.callsFor(res.id)).toHaveLength(0);
  });

  it('a hanging service: each attempt times out, retry_count retries, then 503', async () => {
    const res = await call(`${gw.url}/auth`, bearer('hang'));
    expect(res.status).toBe(503);
    expect(res.body.message).toBe('The authentication service is unavailable, try again later');
    expect(auth.callsFor(res.id)).toHaveLength(3);
    expect(up.seen.some((s) => s.headers['x-request-id'] === res.id)).toBe(false);
  });

  it('a service that trickles its answer is cut at the call deadline: 503, not a 20 s wait', async () => {
    const res = await call(`${gw.url}/auth`, bearer('trickle'));
    expect(res.status).toBe(503);
    expect(up.seen.some((s) => s.headers['x-request-id'] === res.id)).toBe(false);
  });

  it('a failing service (500): retried, then 503 without its internals', async () => {
    const res = await call(`${gw.url}/auth`, bearer('fail'));
    expect(res.status).toBe(503);
    expect(JSON.stringify(res.body)).not.toContain('stack');
    expect(auth.callsFor(res.id)).toHaveLength(3);
  });

  it('retries every 5xx, not only 500/502/503/504 (SPEC §5)', async () => {
    for (const status of [501, 505, 507]) {
      const res = await call(`${gw.url}/auth`, bearer(`status-${status}`));
      expect([status, res.status, auth.callsFor(res.id).length]).toEqual([status, 503, 3]);
    }
  });

  it('opens the circuit breaker after failure_threshold failures, then answers 503 without calling', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await call(`${gw.url}/breaker`, bearer('fail'));
      expect(res.status).toBe(503);
      expect(auth.callsFor(res.id)).toHaveLength(1);
    }
    const before = auth.calls.length;
    const open = await call(`${gw.url}/breaker`, bearer('allow-u3'));
    expect(open.status).toBe(503);
    expect(open.headers['retry-after']).toBe('1');
    expect(auth.calls.length).toBe(before);
    await sleep(1100); // reset_timeout: one trial goes through and closes the breaker
    const trial = await call(`${gw.url}/breaker`, bearer('allow-u3'));
    expect(trial.status).toBe(200);
    expect(trial.body.headers['x-user-id']).toBe('u3');
    expect((await call(`${gw.url}/breaker`, bearer('allow-u4'))).status).toBe(200);
  });

  it('caches decisions for cache_ttl, keyed by credential, method and path', async () => {
    const first = await call(`${gw.url}/cached`, bearer('allow-c1'));
    const second = await call(`${gw.url}/cached`, bearer('allow-c1'));
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(second.body.headers['x-user-id']).toBe('c1');
    expect(auth.callsFor(first.id)).toHaveLength(1);
    expect(auth.callsFor(second.id)).toHaveLength(0);
    const d1 = await call(`${gw.url}/cached`, bearer('deny'));
    const d2 = await call(`${gw.url}/cached`, bearer('deny'));
    expect([d1.status, d2.status]).toEqual([401, 401]);
    expect(auth.callsFor(d2.id)).toHaveLength(0);
    const otherPath = await call(`${gw.url}/cached/other`, bearer('allow-c1'));
    expect(auth.callsFor(otherPath.id)).toHaveLength(1);
  });

  it('two Authorization lines are refused (400), never joined into one value the service and the upstream could read differently', async () => {
    const { port } = new URL(gw.url);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => socket.write('GET /auth/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer allow-first\r\nAuthorization: Bearer allow-second\r\nConnection: close\r\n\r\n'));
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString()));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect(raw).toContain('one Authorization header');
    expect(auth.calls.some((c) => String(c.headers.authorization).includes('allow-second'))).toBe(false);
  });

  it('with cache_ttl, concurrent identical requests share one call to the service (no stampede); each gets its own copy', async () => {
    const before = auth.calls.length;
    const replies = await Promise.all(Array.from({ length: 20 }, () => call(`${gw.url}/cached/burst`, bearer('allow-burst'))));
    expect(replies.map((r) => r.status)).toEqual(new Array(20).fill(200));
    for (const r of replies) expect(r.body.headers['x-user-id']).toBe('burst');
    expect(auth.calls.slice(before).filter((c) => c.headers.authorization === 'Bearer allow-burst')).toHaveLength(1);
    // denials are shared the same way
    const denied = await Promise.all(Array.from({ length: 10 }, () => call(`${gw.url}/cached/burst`, bearer('deny-burst'))));
    expect(denied.map((r) => r.status)).toEqual(new Array(10).fill(401));
    expect(auth.calls.slice(before).filter((c) => c.headers.authorization === 'Bearer deny-burst')).toHaveLength(1);
    // an answer the service marks no-store is its answer to that request only: concurrent ones ask for themselves
    const fresh = await Promise.all(Array.from({ length: 5 }, () => call(`${gw.url}/cached/burst`, bearer('nostore-burst'))));
    expect(fresh.map((r) => r.status)).toEqual(new Array(5).fill(200));
    expect(auth.calls.slice(before).filter((c) => c.headers.authorization === 'Bearer nostore-burst')).toHaveLength(5);
  });

  it('a 2xx with an HTML page is a failure (503), not an allow; an empty 204 or a text/plain OK allows', async () => {
    const page = await call(`${gw.url}/auth/html`, bearer('html'));
    expect(page.status).toBe(503);
    const empty = await call(`${gw.url}/auth/empty`, bearer('empty'));
    expect(empty.status).toBe(200);
    expect(empty.body.headers['x-user-id']).toBeUndefined();
    expect((await call(`${gw.url}/auth/plain`, bearer('plain'))).status).toBe(200); // text/plain "OK" allows, as SPEC §5 says of a 2xx
  });

  it('a cached decision is reused only for the same query, host and workspace; Cache-Control: no-store is never cached', async () => {
    const a = await call(`${gw.url}/cached/q?tenant=a`, bearer('allow-q1'));
    const b = await call(`${gw.url}/cached/q?tenant=b`, bearer('allow-q1'));
    const again = await call(`${gw.url}/cached/q?tenant=a`, bearer('allow-q1'));
    expect([a.status, b.status, again.status]).toEqual([200, 200, 200]);
    expect(auth.callsFor(a.id)).toHaveLength(1);
    expect(auth.callsFor(b.id)).toHaveLength(1); // the service decides on the query it is shown
    expect(auth.callsFor(again.id)).toHaveLength(0);
    const ws1 = await call(`${gw.url}/cached/w`, { ...bearer('allow-q1'), 'x-workspace-id': 'ws-1' });
    const ws2 = await call(`${gw.url}/cached/w`, { ...bearer('allow-q1'), 'x-workspace-id': 'ws-2' });
    expect(auth.callsFor(ws1.id)).toHaveLength(1);
    expect(auth.callsFor(ws2.id)).toHaveLength(1);
    const n1 = await call(`${gw.url}/cached/n`, bearer('nostore-n1'));
    const n2 = await call(`${gw.url}/cached/n`, bearer('nostore-n1'));
    expect([n1.status, n2.status]).toEqual([200, 200]);
    expect(auth.callsFor(n2.id)).toHaveLength(1);
  });

  it('several authentication plugins: any one accepting is enough', async () => {
    const viaJwt = await call(`${gw.url}/multi`, bearer(await seedToken(key)));
    expect(viaJwt.status).toBe(200);
    expect(viaJwt.body.headers['x-credential-identifier']).toBe('admin-key');
    expect(auth.callsFor(viaJwt.id)).toHaveLength(0);
    const viaService = await call(`${gw.url}/multi`, bearer('allow-m1'));
    expect(viaService.status).toBe(200);
    expect(viaService.body.headers['x-user-id']).toBe('m1');
    const neither = await call(`${gw.url}/multi`, bearer('deny'));
    expect(neither.status).toBe(401);
    // The opaque token is the service's: its denial is what the client is told, not jwt's "not a JWT".
    expect(neither.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    expect(neither.body.message).toBe('Unauthorized');
    const none = await call(`${gw.url}/multi`);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
  });

  it('access-control: required_scopes → 403 insufficient_scope, allowed_roles → 403, nobody → 401', async () => {
    const reader = await call(`${gw.url}/scoped`, bearer('allow-r1-api.read'));
    expect(reader.status).toBe(403);
    expect(reader.headers['www-authenticate']).toBe('Bearer error="insufficient_scope", scope="api.write"');
    expect(reader.body.message).toBe('Insufficient scope');
    expect((await call(`${gw.url}/scoped`, bearer('allow-w1-api.read-api.write'))).status).toBe(200);
    const user = await call(`${gw.url}/roles`, bearer('allow-u9'));
    expect(user.status).toBe(403);
    expect((await call(`${gw.url}/roles`, bearer('admin-a1'))).status).toBe(200);
    expect((await call(`${gw.url}/roles`, bearer('camel-o1'))).status).toBe(200);
    expect((await call(`${gw.url}/nobody`)).status).toBe(401);
  });
});

describe('custom-auth-pre-function: the service’s Cache-Control bounds the decision cache', () => {
  it('keeps cache_ttl without one, caps it by max-age, keeps nothing with no-store or no-cache', () => {
    expect(cacheLifetime(null, 60_000)).toBe(60_000);
    expect(cacheLifetime('max-age=5', 60_000)).toBe(5_000);
    expect(cacheLifetime('public, max-age=600', 60_000)).toBe(60_000);
    expect(cacheLifetime('max-age=0', 60_000)).toBe(0);
    expect(cacheLifetime('No-Store', 60_000)).toBe(0);
    expect(cacheLifetime('max-age=30, no-cache', 60_000)).toBe(0);
  });
});
