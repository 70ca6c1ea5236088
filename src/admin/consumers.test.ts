import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startGateway, type GatewayProcess } from '../../test/helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../../test/helpers/upstream.js';
import { freshDatabase } from '../../test/helpers/postgres.js';
import { bearer, rsaPair, seedToken, type RsaPair } from '../../test/helpers/jwt.js';

interface Res {
  status: number;
  body: Record<string, unknown> & { message?: string; fields?: Record<string, string>; data?: Array<Record<string, unknown>>; next?: string | null };
}

async function admin(gw: GatewayProcess, method: string, path: string, body?: unknown, form = false): Promise<Res> {
  const headers: Record<string, string> = {};
  let payload: string | undefined;
  if (body !== undefined) {
    headers['content-type'] = form ? 'application/x-www-form-urlencoded' : 'application/json';
    payload = form ? (body as string) : JSON.stringify(body);
  }
  const res = await request(`${gw.adminUrl}${path}`, { method: method as 'GET', headers, body: payload });
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? (JSON.parse(text) as Res['body']) : {} };
}

async function proxied(gw: GatewayProcess, token: string): Promise<number> {
  const res = await request(`${gw.url}/api`, { headers: bearer(token) });
  await res.body.dump();
  return res.statusCode;
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`Admin API /consumers and /consumers/{c}/jwt (${backend})`, () => {
    let up: TestUpstream;
    let gw: GatewayProcess;
    let replica: GatewayProcess | null = null;
    let seedKey: RsaPair;
    let aliceKey: RsaPair;
    let store: string | undefined;

    beforeAll(async () => {
      up = await startUpstream();
      seedKey = rsaPair(2048);
      aliceKey = rsaPair(2048);
      store = backend === 'postgres' ? await freshDatabase('tg_admin') : undefined;
      const config = {
        gateway: { ...(store ? { store } : {}), db_cache_ttl: 1 },
        services: [{ name: 'echo', url: up.url, routes: [{ name: 'api', paths: ['/api'], plugins: [{ name: 'jwt' }] }] }],
        consumers: [{ username: 'admin', jwt_secrets: [{ key: 'admin-key', algorithm: 'RS256', rsa_public_key: seedKey.publicPem }] }],
      };
      gw = await startGateway(config);
      // a second replica on the same PostgreSQL database
      if (store) replica = await startGateway(config);
    });
    afterAll(async () => {
      await replica?.stop();
      await gw?.stop();
      await up?.close();
    });

    it('creates consumers from JSON and forms, refuses unknown fields (400 fields) and duplicates (409)', async () => {
      const created = await admin(gw, 'POST', '/consumers', { username: 'alice', custom_id: 'a-1', tags: ['team-a'] });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ username: 'alice', custom_id: 'a-1', tags: ['team-a'], source: 'admin' });
      expect(created.body.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(typeof created.body.created_at).toBe('number');

      const form = await admin(gw, 'POST', '/consumers', 'username=bob&tags[]=x&tags[]=y', true);
      expect(form.status).toBe(201);
      expect(form.body.tags).toEqual(['x', 'y']);

      const unknown = await admin(gw, 'POST', '/consumers', { username: 'carol', nickname: 'c' });
      expect(unknown.status).toBe(400);
      expect(unknown.body.fields).toEqual({ '@entity': 'unknown field: nickname' });
      const empty = await admin(gw, 'POST', '/consumers', {});
      expect(empty.status).toBe(400);
      expect(empty.body.fields?.username).toBe('a consumer needs username or custom_id');

      const dup = await admin(gw, 'POST', '/consumers', { username: 'alice' });
      expect(dup.status).toBe(409);
      expect(dup.body.fields).toEqual({ username: "already exists with value 'alice'" });
    });

    it('reads by id or username, lists with paging, updates (PATCH, PUT) and deletes (404 after)', async () => {
      const byName = await admin(gw, 'GET', '/consumers/alice');
      expect(byName.status).toBe(200);
      expect((await admin(gw, 'GET', `/consumers/${String(byName.body.id)}`)).body.username).toBe('alice');
      expect((await admin(gw, 'GET', '/consumers/nobody')).status).toBe(404);

      const first = await admin(gw, 'GET', '/consumers?size=2');
      expect(first.body.data).toHaveLength(2);
      expect(first.body.next).toBe('/consumers?offset=2&size=2');
      const rest = await admin(gw, 'GET', first.body.next!);
      expect(rest.body.data!.map((c) => c.username)).toContain('bob');
      expect((await admin(gw, 'GET', '/consumers?size=0')).status).toBe(400);
      for (const offset of ['99999999999999999999', '1e300', '-1', 'abc']) {
        expect(await admin(gw, 'GET', `/consumers?offset=${offset}`)).toEqual({ status: 400, body: { message: 'schema violation', fields: { offset: 'expected the offset given by `next`' } } });
      }
      expect((await admin(gw, 'GET', '/consumers?offset=1000000')).body.data).toEqual([]);

      const patched = await admin(gw, 'PATCH', '/consumers/bob', { custom_id: 'b-1' });
      expect(patched.body).toMatchObject({ username: 'bob', custom_id: 'b-1', tags: ['x', 'y'] });
      const put = await admin(gw, 'PUT', '/consumers/dave', { tags: ['new'] });
      expect(put.status).toBe(201);
      expect(put.body.username).toBe('dave');
      expect((await admin(gw, 'PUT', '/consumers/dave', { custom_id: 'd-1' })).body).toMatchObject({ username: 'dave', custom_id: 'd-1', tags: [] });

      expect((await admin(gw, 'DELETE', '/consumers/dave')).status).toBe(204);
      expect((await admin(gw, 'GET', '/consumers/dave')).status).toBe(404);
      expect((await admin(gw, 'DELETE', '/consumers/dave')).status).toBe(404);
    });

    it('accepts the seed token for the config-file consumer synced into the store', async () => {
      expect(await proxied(gw, await seedToken(seedKey))).toBe(200);
      expect(await proxied(gw, await seedToken(aliceKey))).toBe(401);
    });

    it('keeps config-file consumers read-only, but lets credentials be added to them', async () => {
      const del = await admin(gw, 'DELETE', '/consumers/admin');
      expect(del.status).toBe(409);
      expect(del.body.message).toContain('declared in the config file');
      expect((await admin(gw, 'PATCH', '/consumers/admin', { custom_id: 'x' })).status).toBe(409);
      const list = await admin(gw, 'GET', '/consumers/admin/jwt');
      expect(list.body.data).toMatchObject([{ key: 'admin-key', algorithm: 'RS256', source: 'config' }]);
      expect((await admin(gw, 'DELETE', '/consumers/admin/jwt/admin-key')).status).toBe(409);
    });

    it('a credential created over the Admin API works at once; deleting it stops its tokens at once', async () => {
      const token = await seedToken(aliceKey, 'alice-key', 'alice-user');
      expect(await proxied(gw, token)).toBe(401);
      const pem = encodeURIComponent(aliceKey.publicPem);
      const created = await admin(gw, 'POST', '/consumers/alice/jwt', `key=alice-key&algorithm=RS256&rsa_public_key=${pem}`, true);
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ key: 'alice-key', algorithm: 'RS256', secret: null });
      expect(await proxied(gw, token)).toBe(200);
      expect(await proxied(gw, token)).toBe(200); // cached
      expect((await admin(gw, 'GET', `/consumers/alice/jwt/${String(created.body.id)}`)).body.key).toBe('alice-key');
      expect((await admin(gw, 'DELETE', '/consumers/alice/jwt/alice-key')).status).toBe(204);
      expect(await proxied(gw, token)).toBe(401);
      expect((await admin(gw, 'GET', '/consumers/alice/jwt/alice-key')).status).toBe(404);
    });

    it('rotates a key: new credential beside the old, then the old one removed', async () => {
      const oldKey = rsaPair(2048);
      const newKey = rsaPair(2048);
      await admin(gw, 'POST', '/consumers/bob/jwt', { key: 'bob-2025', algorithm: 'RS256', rsa_public_key: oldKey.publicPem });
      const oldToken = await seedToken(oldKey, 'bob-2025', 'bob');
      expect(await proxied(gw, oldToken)).toBe(200);
      await admin(gw, 'POST', '/consumers/bob/jwt', { key: 'bob-2026', algorithm: 'RS256', rsa_public_key: newKey.publicPem });
      const newToken = await seedToken(newKey, 'bob-2026', 'bob');
      expect([await proxied(gw, oldToken), await proxied(gw, newToken)]).toEqual([200, 200]);
      expect((await admin(gw, 'DELETE', '/consumers/bob/jwt/bob-2025')).status).toBe(204);
      expect([await proxied(gw, oldToken), await proxied(gw, newToken)]).toEqual([401, 200]);
    });

    it('validates credentials: key material, algorithm, generated HS secrets, 409 and 404', async () => {
      const ec = await admin(gw, 'POST', '/consumers/bob/jwt', { algorithm: 'ES256', rsa_public_key: seedKey.publicPem });
      expect(ec.status).toBe(400);
      expect(ec.body.fields).toEqual({ rsa_public_key: 'a rsa key cannot verify ES256' });
      const priv = await admin(gw, 'POST', '/consumers/bob/jwt', { algorithm: 'RS256', rsa_public_key: seedKey.privatePem });
      expect(priv.body.fields?.rsa_public_key).toContain('private key');
      expect((await admin(gw, 'POST', '/consumers/bob/jwt', { algorithm: 'RS256', rsa_public_key: 'garbage' })).body.fields).toEqual({ rsa_public_key: 'not a PEM public key or certificate' });
      expect((await admin(gw, 'POST', '/consumers/bob/jwt', { algorithm: 'RS256' })).status).toBe(400);
      expect((await admin(gw, 'POST', '/consumers/bob/jwt', { algorithm: 'XS256' })).body.fields?.algorithm).toBeDefined();
      expect((await admin(gw, 'POST', '/consumers/bob/jwt', { key: 'k', extra: 1 })).body.fields).toEqual({ '@entity': 'unknown field: extra' });
      const hs = await admin(gw, 'POST', '/consumers/bob/jwt', {});
      expect(hs.status).toBe(201);
      expect(hs.body.algorithm).toBe('HS256');
      expect(String(hs.body.key)).toMatch(/^[0-9a-f]{32}$/);
      expect(String(hs.body.secret).length).toBeGreaterThanOrEqual(32);
      const dup = await admin(gw, 'POST', '/consumers/alice/jwt', { key: String(hs.body.key) });
      expect(dup.status).toBe(409);
      expect(dup.body.fields).toEqual({ key: `already exists with value '${String(hs.body.key)}'` });
      expect((await admin(gw, 'POST', '/consumers/nobody/jwt', {})).status).toBe(404);
      expect((await admin(gw, 'GET', `/consumers/alice/jwt/${String(hs.body.id)}`)).status).toBe(404); // bob's, not alice's
    });

    it('deleting a consumer removes its credentials and their tokens', async () => {
      const key = rsaPair(2048);
      await admin(gw, 'POST', '/consumers', { username: 'erin' });
      await admin(gw, 'POST', '/consumers/erin/jwt', { key: 'erin-key', algorithm: 'RS256', rsa_public_key: key.publicPem });
      const token = await seedToken(key, 'erin-key', 'erin');
      expect(await proxied(gw, token)).toBe(200);
      expect((await admin(gw, 'DELETE', '/consumers/erin')).status).toBe(204);
      expect(await proxied(gw, token)).toBe(401);
    });

    it.runIf(backend === 'postgres')('replicas on one PostgreSQL see Admin writes made on another within db_cache_ttl', async () => {
      const key = rsaPair(2048);
      await admin(gw, 'POST', '/consumers', { username: 'frank' });
      await admin(gw, 'POST', '/consumers/frank/jwt', { key: 'frank-key', algorithm: 'RS256', rsa_public_key: key.publicPem });
      const token = await seedToken(key, 'frank-key', 'frank');
      expect(await proxied(replica!, token)).toBe(200);
      expect((await admin(gw, 'DELETE', '/consumers/frank/jwt/frank-key')).status).toBe(204);
      await new Promise((r) => setTimeout(r, 1300)); // db_cache_ttl: 1 s on the other replica
      expect(await proxied(replica!, token)).toBe(401);
    });
  });
}
