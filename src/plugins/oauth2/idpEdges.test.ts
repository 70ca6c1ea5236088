import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { request } from 'undici';
import { keyFile, pkce, REDIRECT, registerClient, startOAuthGateway, type OAuthGateway } from '../../../test/helpers/oauth.js';
import { startPostgres, type PostgresServer } from '../../../test/helpers/postgres.js';

/**
 * The callback's answers to an identity provider that misbehaves, which a real provider
 * (oidc-provider, browserFlow.test.ts) cannot be made to do: a scriptable one whose JWKS
 * fails and whose ID tokens carry the claims a case sets.
 */
describe('oauth2 browser flow: identity-provider edge cases', () => {
  let idp: Server;
  let pg: PostgresServer;
  let iss: string;
  let og: OAuthGateway;
  let spa: { client_id: string };
  let key: CryptoKey;
  let nonce = '';
  let scenario: { jwksStatus?: number; claims?: Record<string, unknown>; beforeToken?: () => Promise<void> } = {};

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    key = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'idp1', alg: 'RS256', use: 'sig' };
    idp = createServer((req, res) => {
      const send = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      req.resume();
      req.on('end', async () => {
        const path = new URL(req.url!, 'http://x').pathname;
        if (path === '/.well-known/openid-configuration') {
          return send(200, { issuer: iss, authorization_endpoint: `${iss}/auth`, token_endpoint: `${iss}/token`, jwks_uri: `${iss}/jwks`, id_token_signing_alg_values_supported: ['RS256'] });
        }
        if (path === '/jwks') return scenario.jwksStatus ? send(scenario.jwksStatus, {}) : send(200, { keys: [jwk] });
        if (path === '/token') {
          await scenario.beforeToken?.();
          const claims = { sub: 'user-1', nonce, ...scenario.claims };
          const idToken = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'idp1' }).setIssuer(iss).setAudience('tollgate').setIssuedAt().setExpirationTime('5m').sign(key);
          return send(200, { access_token: 'at', token_type: 'Bearer', id_token: idToken });
        }
        send(404, {});
      });
    });
    await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
    iss = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
    pg = await startPostgres(); // stopped by the last test
    og = await startOAuthGateway((issuer) => ({
      gateway: { issuer, store: pg.url, db_cache_ttl: 60, signing_keys: [{ kid: 'k1', private_key_file: keyFile() }] },
      plugins: [{ name: 'oauth2', config: { identity_provider: { issuer: iss, client_id: 'tollgate', client_secret: 'tollgate-secret' } } }],
      consumers: [{ username: 'web' }],
    }));
    spa = await registerClient(og.gw, 'web', { client_type: 'public' });
  });
  afterAll(async () => {
    await og?.gw.stop();
    await new Promise((r) => idp.close(r));
    await pg?.stop().catch(() => {});
  });

  /** Starts a login (GET /oauth2/authorize): the redirect's target, and the login's cookie. */
  async function startLogin(): Promise<{ location: URL; cookie: string }> {
    const { challenge } = await pkce();
    const q = new URLSearchParams({ response_type: 'code', client_id: spa.client_id, redirect_uri: REDIRECT, state: 'client-state', code_challenge: challenge, code_challenge_method: 'S256' });
    const started = await request(`${og.issuer}/oauth2/authorize?${q}`);
    await started.body.dump();
    return { location: new URL(String(started.headers.location)), cookie: String(started.headers['set-cookie']).split(';')[0]! };
  }

  /** The provider's way back to the callback for a started login. */
  function callback(login: { location: URL; cookie: string }) {
    const back = new URLSearchParams({ code: 'idp-code', state: login.location.searchParams.get('state')!, iss });
    return request(`${og.issuer}/oauth2/callback?${back}`, { headers: { cookie: login.cookie } });
  }

  /** Starts a login, comes back to the callback as the provider would: the client's redirect. */
  async function loginThrough(): Promise<URLSearchParams> {
    const login = await startLogin();
    nonce = login.location.searchParams.get('nonce')!;
    const done = await callback(login);
    await done.body.dump();
    expect(done.statusCode).toBe(302);
    return new URL(String(done.headers.location)).searchParams;
  }

  it('a provider whose JWKS cannot be fetched is an outage (temporarily_unavailable), not a forged token', async () => {
    scenario = { jwksStatus: 500 };
    expect(Object.fromEntries(await loginThrough())).toMatchObject({ error: 'temporarily_unavailable', state: 'client-state' });
    scenario = {};
    expect((await loginThrough()).get('code')).toBeTruthy();
  });

  it('refuses an ID token whose sub is not a non-empty string, or whose azp names another client', async () => {
    for (const claims of [{ sub: '' }, { sub: { id: 'x' } }, { sub: ['a', 'b'] }, { azp: 'another-client' }]) {
      scenario = { claims };
      expect(Object.fromEntries(await loginThrough()), JSON.stringify(claims)).toMatchObject({ error: 'access_denied' });
    }
    scenario = { claims: { azp: 'tollgate' } };
    expect((await loginThrough()).get('code')).toBeTruthy();
  });

  it('with the store down, the browser gets a 503 page (not gateway JSON) at authorize and at a parked login\'s callback', async () => {
    const parked = await startLogin();
    // The store goes down while the provider answers the callback's code exchange: the login and
    // its client were read, the code cannot be written; the client is told (redirect), not the user.
    scenario = { beforeToken: () => pg.stop() };
    expect(Object.fromEntries(await loginThrough())).toEqual({
      error: 'temporarily_unavailable',
      error_description: 'the authorization server cannot reach its store; try again later',
      state: 'client-state',
      iss: og.issuer,
    });
    scenario = {};
    // The client cannot be checked (authorize reads it fresh), so nothing is redirected.
    const { challenge } = await pkce();
    const q = new URLSearchParams({ response_type: 'code', client_id: spa.client_id, redirect_uri: REDIRECT, state: 's', code_challenge: challenge, code_challenge_method: 'S256' });
    for (const res of [await request(`${og.issuer}/oauth2/authorize?${q}`), await callback(parked)]) {
      expect(res.statusCode).toBe(503);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.headers.location).toBeUndefined();
      expect(await res.body.text()).toContain('cannot reach its store');
    }
  });

  it('HEAD on /oauth2/authorize and /oauth2/callback is 405: it must not park or spend a login', async () => {
    for (const path of ['/oauth2/authorize', '/oauth2/callback']) {
      const res = await request(`${og.issuer}${path}?state=x`, { method: 'HEAD' });
      expect(res.statusCode, path).toBe(405);
      expect(res.headers.allow, path).toContain('GET');
      expect(res.headers['set-cookie'], path).toBeUndefined();
    }
  });
});
