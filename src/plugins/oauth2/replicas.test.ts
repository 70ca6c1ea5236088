import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as oauth from 'oauth4webapi';
import { startUpstream, type TestUpstream } from '../../../test/helpers/upstream.js';
import { startGateway, type GatewayProcess } from '../../../test/helpers/gateway.js';
import { freePort, waitFor } from '../../../test/helpers/ports.js';
import { freshDatabase } from '../../../test/helpers/postgres.js';
import { sharedRedisUrl, startRedis, type RedisServer } from '../../../test/helpers/redis.js';
import { Browser, startIdp, type TestIdp } from '../../../test/helpers/oidcProvider.js';
import { bearer, discover, http, INSECURE, keyFile, pkce, provisionAuthorize, REDIRECT, registerClient } from '../../../test/helpers/oauth.js';

/**
 * Two gateway processes on one PostgreSQL and one Redis, as two replicas behind a load
 * balancer (one issuer): each finishes the flows the other started, a code redeemed on both at
 * once is issued once, and a revocation on one (replay, refresh reuse, RFC 7009, Admin API)
 * stops the token on the other at once.
 */

const PROVISION = 'provision-key-0123456789';

describe('oauth2 on two replicas (PostgreSQL + Redis)', () => {
  let up: TestUpstream;
  let idp: TestIdp;
  let a: GatewayProcess;
  let b: GatewayProcess;
  let issuer: string;
  let client: { client_id: string; client_secret?: string };

  beforeAll(async () => {
    up = await startUpstream();
    const [portA, idpPort] = [await freePort(), await freePort()];
    issuer = `http://127.0.0.1:${portA}`;
    const config = {
      gateway: { issuer, store: await freshDatabase('tg_oauth'), redis: sharedRedisUrl(), signing_keys: [{ kid: 'k1', private_key_file: keyFile() }] },
      plugins: [
        {
          name: 'oauth2',
          config: { provision_key: PROVISION, identity_provider: { issuer: `http://127.0.0.1:${idpPort}`, client_id: 'tollgate', client_secret: 'tollgate-secret' } },
        },
      ],
      services: [{ name: 'echo', url: up.url, routes: [{ name: 'api', paths: ['/api'] }] }],
      consumers: [{ username: 'admin' }],
    };
    [a, b] = await Promise.all([startGateway(config, { env: { TOLLGATE_PROXY_LISTEN: `127.0.0.1:${portA}` } }), startGateway(config)]);
    idp = startIdp(idpPort, { client_id: 'tollgate', client_secret: 'tollgate-secret', redirect_uris: [`${issuer}/oauth2/callback`] });
    client = await registerClient(a, 'admin', { client_secret: 'secret-of-the-client' });
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await idp?.close();
    await up?.close();
  });

  async function codeOn(gw: GatewayProcess): Promise<{ code: string; verifier: string }> {
    const { verifier, challenge } = await pkce();
    const res = await provisionAuthorize(gw.url, { client_id: client.client_id, code_challenge: challenge, code_challenge_method: 'S256', provision_key: PROVISION, authenticated_userid: 'user-1' });
    expect(res.status).toBe(200);
    return { code: new URL(res.json<{ redirect_uri: string }>().redirect_uri).searchParams.get('code')!, verifier };
  }
  const token = (gw: GatewayProcess, params: Record<string, string>) =>
    http(`${gw.url}/oauth2/token`, { form: { client_id: client.client_id, client_secret: client.client_secret!, ...params } });
  const tokensOf = (res: { json<T>(): T }) => res.json<{ access_token: string; refresh_token: string }>();
  const status = async (gw: GatewayProcess, accessToken: string) => (await http(`${gw.url}/api/x`, { headers: bearer(accessToken) })).status;

  it('a code issued by one replica is redeemed on the other, and the token works on both', async () => {
    const c = await codeOn(a);
    const res = await token(b, { grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier });
    expect(res.status).toBe(200);
    const t = tokensOf(res);
    expect([await status(a, t.access_token), await status(b, t.access_token)]).toEqual([200, 200]);
    const refreshed = await token(a, { grant_type: 'refresh_token', refresh_token: t.refresh_token });
    expect(refreshed.status).toBe(200);
  });

  it('a code redeemed on both replicas at once is issued once', async () => {
    const c = await codeOn(a);
    const results = await Promise.all([a, b, a, b].map((gw) => token(gw, { grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 400, 400, 400]);
  });

  it('a replay on one replica revokes, at once on the other, the tokens the code issued', async () => {
    const c = await codeOn(b);
    const t = tokensOf(await token(a, { grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier }));
    expect(await status(b, t.access_token)).toBe(200);
    expect((await token(b, { grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier })).json().error).toBe('invalid_grant');
    expect([await status(a, t.access_token), await status(b, t.access_token)]).toEqual([401, 401]);
  });

  it('refresh reuse on one replica revokes the grant on the other at once', async () => {
    const c = await codeOn(a);
    const first = tokensOf(await token(a, { grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier }));
    const second = tokensOf(await token(b, { grant_type: 'refresh_token', refresh_token: first.refresh_token }));
    expect(await status(a, second.access_token)).toBe(200);
    expect((await token(b, { grant_type: 'refresh_token', refresh_token: first.refresh_token })).json().error).toBe('invalid_grant');
    expect(await status(a, second.access_token)).toBe(401);
  });

  it('a token revoked through one replica (RFC 7009 or the Admin API) stops at once on the other', async () => {
    const c1 = await codeOn(a);
    const t1 = tokensOf(await token(a, { grant_type: 'authorization_code', code: c1.code, code_verifier: c1.verifier }));
    expect(await status(b, t1.access_token)).toBe(200);
    expect((await http(`${a.url}/oauth2/revoke`, { form: { token: t1.access_token, client_id: client.client_id, client_secret: client.client_secret! } })).status).toBe(200);
    expect(await status(b, t1.access_token)).toBe(401);

    const c2 = await codeOn(b);
    const t2 = tokensOf(await token(b, { grant_type: 'authorization_code', code: c2.code, code_verifier: c2.verifier }));
    expect(await status(a, t2.access_token)).toBe(200);
    const { jti } = JSON.parse(Buffer.from(t2.access_token.split('.')[1]!, 'base64url').toString()) as { jti: string };
    expect((await http(`${b.adminUrl}/oauth2_tokens/${jti}`, { method: 'DELETE' })).status).toBe(204);
    expect(await status(a, t2.access_token)).toBe(401);
  });

  it('a browser login started on one replica finishes on the other', async () => {
    const as = await discover(issuer);
    const { verifier, challenge } = await pkce();
    const state = oauth.generateRandomState();
    const start = new URL(`${b.url}/oauth2/authorize`);
    const params = { response_type: 'code', client_id: client.client_id, redirect_uri: REDIRECT, state, code_challenge: challenge, code_challenge_method: 'S256' };
    for (const [k, v] of Object.entries(params)) start.searchParams.set(k, v);
    const browser = new Browser();
    // Logged in at the provider through replica b, which set its cookie for the issuer's host.
    const back = await browser.login(start.toString(), 'dave', `${issuer}/oauth2/callback`);
    const [name, cookie] = [...browser.cookies(new URL(b.url).host)].find(([k]) => k.startsWith('tollgate_oauth2_login_'))!;
    browser.cookies(new URL(issuer).host).set(name, cookie);
    // The provider sends the user back to the issuer's address, where replica a answers.
    const done = await browser.go(back);
    const c = { client_id: client.client_id };
    const cb = oauth.validateAuthResponse(as, c, new URL(done.location!), state);
    const res = await oauth.authorizationCodeGrantRequest(as, c, oauth.ClientSecretPost(client.client_secret!), cb, REDIRECT, verifier, INSECURE);
    const tokens = await oauth.processAuthorizationCodeResponse(as, c, res);
    expect((await http(`${b.url}/api/x`, { headers: bearer(tokens.access_token) })).json<{ headers: Record<string, string> }>().headers['x-user-id']).toBe('dave');
  });
});

describe('oauth2 on two replicas while Redis is down', () => {
  let up: TestUpstream;
  let redis: RedisServer;
  let a: GatewayProcess;
  let b: GatewayProcess;
  let client: { client_id: string; client_secret?: string };

  beforeAll(async () => {
    up = await startUpstream();
    redis = await startRedis();
    const config = {
      gateway: { issuer: 'http://tollgate.test', store: await freshDatabase('tg_oauth_down'), redis: redis.url, signing_keys: [{ kid: 'k1', private_key_file: keyFile() }] },
      plugins: [{ name: 'oauth2', config: { provision_key: PROVISION, enable_client_credentials: true } }],
      services: [{ name: 'echo', url: up.url, routes: [{ name: 'api', paths: ['/api'] }] }],
      consumers: [{ username: 'admin' }],
    };
    [a, b] = await Promise.all([startGateway(config), startGateway(config)]);
    client = await registerClient(a, 'admin', { client_secret: 'secret-of-the-client' });
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
    await up?.close();
  });

  const issue = async (gw: GatewayProcess) =>
    (await http(`${gw.url}/oauth2/token`, { form: { grant_type: 'client_credentials', client_id: client.client_id, client_secret: client.client_secret! } })).json<{ access_token: string }>().access_token;
  const status = async (gw: GatewayProcess, t: string) => (await http(`${gw.url}/api/x`, { headers: bearer(t) })).status;

  it('keeps serving, and a revocation still reaches the other replica through the store', async () => {
    await redis.kill();
    const t = await issue(a);
    expect([await status(a, t), await status(b, t)]).toEqual([200, 200]);
    expect((await http(`${a.url}/oauth2/revoke`, { form: { token: t, client_id: client.client_id, client_secret: client.client_secret! } })).status).toBe(200);
    expect(await status(a, t)).toBe(401);
    await waitFor(async () => (await status(b, t)) === 401, 'replica b to read the revocation from the store');
  });

  it('picks Redis up again when it comes back', async () => {
    await redis.restart();
    const t = await issue(b);
    // Once b's subscription is back, a revocation on a reaches it through Redis again: refused
    // the moment the revocation is answered (b's store poll is back to every 10 s by then).
    const revokedAtOnce = async () => {
      const probe = await issue(b);
      await http(`${a.url}/oauth2/revoke`, { form: { token: probe, client_id: client.client_id, client_secret: client.client_secret! } });
      return (await status(b, probe)) === 401;
    };
    await waitFor(revokedAtOnce, 'the revocation feeds to resubscribe');
    expect([await revokedAtOnce(), await revokedAtOnce(), await revokedAtOnce()]).toEqual([true, true, true]);
    expect(await status(b, t)).toBe(200);
  });
});

describe('oauth2 on two replicas without Redis: deleting a client', () => {
  let up: TestUpstream;
  let a: GatewayProcess;
  let b: GatewayProcess;

  beforeAll(async () => {
    up = await startUpstream();
    const config = {
      // A long credential cache: only the revocation feed can make b refuse within seconds.
      gateway: { issuer: 'http://tollgate.test', store: await freshDatabase('tg_oauth_delete'), db_cache_ttl: 120, signing_keys: [{ kid: 'k1', private_key_file: keyFile() }] },
      plugins: [{ name: 'oauth2', config: { enable_client_credentials: true } }],
      services: [{ name: 'echo', url: up.url, routes: [{ name: 'api', paths: ['/api'] }] }],
      consumers: [{ username: 'admin' }],
    };
    [a, b] = await Promise.all([startGateway(config), startGateway(config)]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await up?.close();
  });

  const status = async (gw: GatewayProcess, t: string) => (await http(`${gw.url}/api/x`, { headers: bearer(t) })).status;
  const tokenFor = async (client: { client_id: string; client_secret?: string }) =>
    (await http(`${a.url}/oauth2/token`, { form: { grant_type: 'client_credentials', client_id: client.client_id, client_secret: client.client_secret! } })).json<{ access_token: string }>().access_token;

  it('its tokens are refused at once on the other replica too (the client, or its consumer)', async () => {
    const byClient = await registerClient(a, 'admin', { client_id: 'doomed', client_secret: 'secret-of-the-client' });
    expect((await http(`${a.adminUrl}/consumers`, { form: { username: 'leaving' } })).status).toBe(201);
    const byConsumer = await registerClient(a, 'leaving', { client_id: 'doomed-too', client_secret: 'secret-of-the-client' });
    const [t1, t2] = [await tokenFor(byClient), await tokenFor(byConsumer)];
    expect([await status(b, t1), await status(b, t2)]).toEqual([200, 200]); // b has the clients cached now
    expect((await http(`${a.adminUrl}/consumers/admin/oauth2/doomed`, { method: 'DELETE' })).status).toBe(204);
    expect((await http(`${a.adminUrl}/consumers/leaving`, { method: 'DELETE' })).status).toBe(204);
    expect([await status(a, t1), await status(a, t2)]).toEqual([401, 401]);
    await waitFor(async () => (await status(b, t1)) === 401 && (await status(b, t2)) === 401, 'replica b to read the revocations from the store', 10_000);
  });
});
