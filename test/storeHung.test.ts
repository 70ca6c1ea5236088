import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import pg from 'pg';
import type { GatewayProcess } from './helpers/gateway.js';
import { startUpstream, type TestUpstream } from './helpers/upstream.js';
import { startPostgres, type PostgresServer } from './helpers/postgres.js';
import { bearer, hs256, rsaPair, seedToken } from './helpers/jwt.js';
import { waitFor } from './helpers/ports.js';
import { http, keyFile, registerClient, startOAuthGateway } from './helpers/oauth.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A PostgreSQL that accepts connections but never answers (SIGSTOP; a network that drops
 * packets looks the same): a request whose cached credential expired must not wait for it again
 * and again. One lookup finds out (bounded by the store's lookup deadline), then stale entries
 * serve at once while one probe at a time tries the store; normal refreshes resume when it answers.
 * Both request-path caches of a bearer token: a consumer's jwt credential, and the OAuth client
 * of one of tollgate's own tokens.
 */
describe('a hung PostgreSQL on the request path', { timeout: 120_000 }, () => {
  let db: PostgresServer;
  let up: TestUpstream;
  let gw: GatewayProcess;
  let token: string;
  let issuer: string;
  let ownToken: string;
  beforeAll(async () => {
    db = await startPostgres();
    up = await startUpstream();
    const key = rsaPair(2048);
    token = await seedToken(key, 'app-key', 'user-1');
    const og = await startOAuthGateway(
      (iss) => ({
        gateway: { issuer: iss, store: db.url, db_cache_ttl: 1, signing_keys: [{ kid: 'k1', private_key_file: keyFile() }] },
        services: [{ name: 'echo', url: up.url, routes: [{ name: 'api', paths: ['/api'], plugins: [{ name: 'jwt' }] }] }],
        plugins: [{ name: 'oauth2', config: { enable_client_credentials: true } }],
        consumers: [{ username: 'app', jwt_secrets: [{ key: 'app-key', algorithm: 'RS256', rsa_public_key: key.publicPem }] }],
      }),
      { env: { TOLLGATE_LOG_LEVEL: 'info' } },
    );
    gw = og.gw;
    issuer = og.issuer;
    const client = await registerClient(gw, 'app', { client_id: 'svc', client_secret: 'svc-secret-svc-secret' });
    const issued = await http(`${issuer}/oauth2/token`, { form: { grant_type: 'client_credentials', client_id: client.client_id, client_secret: 'svc-secret-svc-secret' } });
    expect(issued.status).toBe(200);
    ownToken = issued.json<{ access_token: string }>().access_token;
  });
  afterAll(async () => {
    db?.thaw();
    await gw?.stop();
    await up?.close();
    await db?.stop();
  });

  /** One proxied call, given up after `waitMs` (undici's headersTimeout rejects). */
  const call = async (bearerToken: string, waitMs: number) => {
    const res = await request(`${gw.url}/api/x`, { headers: bearer(bearerToken), headersTimeout: waitMs, bodyTimeout: waitMs });
    const body = (await res.body.json()) as { headers?: Record<string, string>; message?: string };
    return { status: res.statusCode, user: body.headers?.['x-consumer-username'] ?? null, message: body.message ?? null };
  };
  const logLines = (msg: string) =>
    gw
      .stderr()
      .split('\n')
      .filter((l) => l.includes(`"msg":"${msg}`));

  it('serves stale credentials and clients at once while it is stopped, refuses unknown ones within a bounded wait, and refreshes once it answers', async () => {
    expect(await call(token, 10_000)).toMatchObject({ status: 200, user: 'app' });
    expect(await call(ownToken, 10_000)).toMatchObject({ status: 200, user: 'app' });
    await sleep(1500); // past db_cache_ttl: the cached credential and client are stale
    db.freeze();
    try {
      // The first lookup finds the store hung: it waits for the lookup deadline (3 s), then the stale entry answers.
      expect(await call(token, 10_000)).toMatchObject({ status: 200, user: 'app' });
      // The store is known to be down now: each of these is answered from a stale entry without waiting
      // for the store again (a single wait is 3 s; before, every one of them waited for it).
      for (let i = 0; i < 20; i++) {
        expect(await call(i % 2 === 0 ? token : ownToken, 2000), `request ${i}`).toMatchObject({ status: 200, user: 'app' });
      }
      // Nothing cached for this key: the documented 503, never a hang.
      const unknown = await call(hs256({ iss: 'never-seen', sub: 'u' }, 'any-secret-any-secret-any-secret!'), 5000);
      expect(unknown).toMatchObject({ status: 503, message: 'the store (database) is unreachable' });
      const issued = await request(`${issuer}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials&client_id=svc&client_secret=svc-secret-svc-secret',
        headersTimeout: 5000,
      });
      expect(issued.statusCode).toBe(503);
      expect(await issued.body.json()).toMatchObject({ error: 'temporarily_unavailable' });
      // The Admin API knows it too: a write or a list answers 503 at once, not after the 15 s query timeout.
      for (const [method, path, body] of [
        ['POST', '/consumers', JSON.stringify({ username: 'during-outage' })],
        ['GET', '/consumers', undefined],
      ] as const) {
        const res = await request(`${gw.adminUrl}${path}`, { method, headers: { 'content-type': 'application/json' }, body, headersTimeout: 2000 });
        expect(res.statusCode, `${method} ${path}`).toBe(503);
        await res.body.dump();
      }
      expect(logLines('store unreachable')).toHaveLength(1);
    } finally {
      db.thaw();
    }

    // A change made elsewhere (another replica, or directly in the database) shows once the store answers.
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query(`update consumers set username = 'app-renamed' where username = 'app'`);
      await client.query(`delete from oauth2_credentials where client_id = 'svc'`);
    } finally {
      await client.end();
    }
    await waitFor(async () => (await call(token, 10_000)).user === 'app-renamed', 'the renamed consumer after PostgreSQL resumed', 20_000, 200);
    await waitFor(async () => (await call(ownToken, 10_000)).status === 401, "the deleted OAuth client's token refused", 20_000, 200);
    await waitFor(() => logLines('store reachable again').length === 1, 'the end of the outage logged');
    expect(logLines('store unreachable')).toHaveLength(1);
    // The outage is logged once, not once per request refused for it.
    expect(gw.stderr()).not.toContain('"level":50');
  });
});
