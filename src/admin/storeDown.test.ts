import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startGateway, type GatewayProcess } from '../../test/helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../../test/helpers/upstream.js';
import { freshDatabase, startPostgres, type PostgresServer } from '../../test/helpers/postgres.js';
import { bearer, hs256, rsaPair, seedToken } from '../../test/helpers/jwt.js';
import { http, keyFile, registerClient, startOAuthGateway, type OAuthGateway } from '../../test/helpers/oauth.js';

/** The Admin API while its PostgreSQL is down (a private server, stopped mid-test). */
describe('Admin writes while the store is down', () => {
  let pg: PostgresServer;
  let up: TestUpstream;
  let gw: GatewayProcess;
  let token: string;
  beforeAll(async () => {
    pg = await startPostgres();
    up = await startUpstream();
    const key = rsaPair(2048);
    token = await seedToken(key, 'admin-key', 'user-1');
    gw = await startGateway({
      gateway: { store: pg.url, db_cache_ttl: 1 },
      services: [{ name: 'echo', url: up.url, routes: [{ name: 'api', paths: ['/api'], plugins: [{ name: 'jwt' }] }] }],
      consumers: [{ username: 'app', jwt_secrets: [{ key: 'admin-key', algorithm: 'RS256', rsa_public_key: key.publicPem }] }],
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
    await pg?.stop().catch(() => {}); // stopped by the test already
  });
  const proxied = async () => {
    const res = await request(`${gw.url}/api/x`, { headers: bearer(token) });
    await res.body.dump();
    return res.statusCode;
  };
  const adminWrite = async (method: string, path: string, body?: unknown) => {
    const res = await request(`${gw.adminUrl}${path}`, { method: method as 'POST', headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    await res.body.dump();
    return res.statusCode;
  };

  it('a write refused for the outage (503) does not make the proxy drop the credentials it serves from', async () => {
    expect(await proxied()).toBe(200);
    await pg.stop();
    await new Promise((r) => setTimeout(r, 1500)); // past db_cache_ttl: the entry is stale, kept for the outage
    expect(await proxied()).toBe(200);
    for (const [method, path, body] of [
      ['POST', '/consumers', { username: 'zz' }],
      ['PUT', '/workspaces/ws-1', { token_budget_day: 1000 }],
      ['POST', '/config', { consumers: [{ username: 'zz' }] }],
    ] as const) {
      expect(await adminWrite(method, path, body), `${method} ${path}`).toBe(503);
      expect(await proxied(), `after ${method} ${path}`).toBe(200);
    }
  });
});

/** What one backend would take and the other refuse (a NUL in text, an integer beyond bigint), and PUT races: the same answers on both. */
for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`Admin API input and races on both backends (${backend})`, () => {
    let up: TestUpstream;
    let gw: GatewayProcess;
    beforeAll(async () => {
      up = await startUpstream();
      const store = backend === 'postgres' ? await freshDatabase('tg_nul') : undefined;
      gw = await startGateway({
        gateway: store ? { store } : {},
        services: [{ name: 'echo', url: up.url, routes: [{ name: 'api', paths: ['/api'], plugins: [{ name: 'jwt' }] }] }],
      });
    });
    afterAll(async () => {
      await gw?.stop();
      await up?.close();
    });
    const call = async (method: string, path: string, body?: string, type = 'application/json') => {
      const res = await request(`${gw.adminUrl}${path}`, { method: method as 'POST', headers: body === undefined ? {} : { 'content-type': type }, body });
      const text = await res.body.text();
      return { status: res.statusCode, body: JSON.parse(text) as { message: string; fields?: Record<string, string> } };
    };

    it('a token whose iss holds a NUL is refused with 401 (no signature needed to send one), not a 500', async () => {
      const res = await request(`${gw.url}/api/x`, { headers: bearer(hs256({ iss: 'x\u0000y', sub: 'u' }, 'any-secret-any-secret-any-secret!')) });
      await res.body.dump();
      expect(res.statusCode).toBe(401);
      expect(gw.stderr()).not.toContain('"level":50');
    });

    it('the Admin API answers one 400 naming the field, in bodies, paths and YAML documents', async () => {
      const why = 'must not contain a NUL character (\\u0000)';
      expect(await call('POST', '/consumers', JSON.stringify({ username: 'a\u0000b' }))).toEqual({ status: 400, body: { message: 'schema violation', fields: { username: why } } });
      expect(await call('GET', '/consumers/a%00b')).toEqual({ status: 400, body: { message: 'schema violation', fields: { 'path.consumer': why } } });
      expect(await call('PUT', '/workspaces/ws1/members/u%00x')).toMatchObject({ status: 400, body: { fields: { 'path.user_id': why } } });
      expect(await call('POST', '/config', 'consumers:\n  - username: "c\\0d"\n', 'application/yaml')).toMatchObject({ status: 400, body: { fields: { 'consumers[0].username': why } } });
      expect((await call('GET', '/consumers')).body).toMatchObject({ data: [] });
      expect(gw.stderr()).not.toContain('"level":50');
    });

    it('simultaneous PUTs of one new consumer all succeed: one creates it, the others replace it', async () => {
      for (let round = 0; round < 5; round++) {
        const name = `racer-${round}`;
        const answers = await Promise.all(Array.from({ length: 6 }, () => call('PUT', `/consumers/${name}`, JSON.stringify({ tags: ['t'] }))));
        expect(answers.map((a) => a.status).sort(), name).toEqual([200, 200, 200, 200, 200, 201]);
        expect(new Set(answers.map((a) => (a.body as unknown as { id: string }).id)).size, name).toBe(1);
      }
    });

    it('a token_budget_day given as a string is bounded like a number: 400 beyond 2^53 - 1', async () => {
      for (const big of ['99999999999999999999', '9223372036854775808']) {
        expect(await call('PUT', '/workspaces/ws1', JSON.stringify({ token_budget_day: big }))).toMatchObject({ status: 400, body: { fields: { token_budget_day: 'too large: at most 9007199254740991 tokens' } } });
      }
      expect(await call('PUT', '/workspaces/ws1', JSON.stringify({ token_budget_day: '9007199254740991' }))).toMatchObject({ status: 200, body: { token_budget_day: 9007199254740991 } });
      expect(gw.stderr()).not.toContain('"level":50');
    });
  });
}

describe('the proxy and the OAuth endpoints while the store is down', () => {
  let pg: PostgresServer;
  let up: TestUpstream;
  let og: OAuthGateway;
  beforeAll(async () => {
    pg = await startPostgres();
    up = await startUpstream();
    og = await startOAuthGateway((issuer) => ({
      gateway: { issuer, store: pg.url, signing_keys: [{ kid: 'k1', private_key_file: keyFile() }] },
      services: [{ name: 'echo', url: up.url, routes: [{ name: 'api', paths: ['/api'], plugins: [{ name: 'jwt' }] }] }],
      plugins: [{ name: 'oauth2', config: { enable_client_credentials: true } }],
      consumers: [{ username: 'app' }],
    }));
  });
  afterAll(async () => {
    await og?.gw.stop();
    await up?.close();
    await pg?.stop().catch(() => {}); // stopped by the test already
  });

  it('answer 503 in their own shapes: the OAuth error temporarily_unavailable, the gateway JSON naming the store', async () => {
    const client = await registerClient(og.gw, 'app', { client_id: 'svc', client_secret: 'svc-secret-svc-secret' });
    await pg.stop();
    const token = await http(`${og.issuer}/oauth2/token`, { form: { grant_type: 'client_credentials', client_id: client.client_id, client_secret: 'svc-secret-svc-secret' } });
    expect(token.status).toBe(503);
    expect(token.json()).toEqual({ error: 'temporarily_unavailable', error_description: 'the authorization server cannot reach its store; try again later' });
    expect(token.headers['cache-control']).toBe('no-store');
    const proxied = await http(`${og.issuer}/api/x`, { headers: bearer(hs256({ iss: 'never-seen', sub: 'u' }, 'any-secret-any-secret-any-secret!')) });
    expect(proxied.status).toBe(503);
    expect(proxied.json()).toMatchObject({ message: 'the store (database) is unreachable' });
  });
});
