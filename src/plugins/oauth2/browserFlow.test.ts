import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as oauth from 'oauth4webapi';
import { startUpstream, type TestUpstream } from '../../../test/helpers/upstream.js';
import { freePort } from '../../../test/helpers/ports.js';
import { Browser, startIdp, type TestIdp } from '../../../test/helpers/oidcProvider.js';
import { bearer, discover, http, INSECURE, keyFile, pkce, REDIRECT, registerClient, startOAuthGateway, type OAuthGateway } from '../../../test/helpers/oauth.js';

/**
 * The browser flow (GET /oauth2/authorize) against a real OpenID Connect provider
 * (oidc-provider) as `identity_provider`: the user is sent there, logs in, comes back to
 * tollgate's callback, and the client gets a code for the provider's `sub`; oauth4webapi
 * checks `iss` and `state` and redeems it. Plus the refusals that must not redirect, the ones
 * that must, a user who cancels, and a callback from another browser.
 */

describe('oauth2 browser flow through an upstream OIDC provider', () => {
  let up: TestUpstream;
  let idp: TestIdp;
  let og: OAuthGateway;
  let as: oauth.AuthorizationServer;
  let spa: { client_id: string };

  beforeAll(async () => {
    up = await startUpstream();
    const idpPort = await freePort();
    og = await startOAuthGateway((issuer) => ({
      gateway: { issuer, signing_keys: [{ kid: 'k1', private_key_file: keyFile() }] },
      plugins: [
        {
          name: 'oauth2',
          config: { identity_provider: { issuer: `http://127.0.0.1:${idpPort}`, client_id: 'tollgate', client_secret: 'tollgate-secret' }, scopes: ['api.read', 'api.write'] },
        },
      ],
      services: [{ name: 'echo', url: up.url, routes: [{ name: 'api', paths: ['/api'] }] }],
      consumers: [{ username: 'web' }],
    }));
    idp = startIdp(idpPort, { client_id: 'tollgate', client_secret: 'tollgate-secret', redirect_uris: [`${og.issuer}/oauth2/callback`] });
    as = await discover(og.issuer);
    spa = await registerClient(og.gw, 'web', { name: 'SPA', client_type: 'public' });
  });
  afterAll(async () => {
    await og?.gw.stop();
    await idp?.close();
    await up?.close();
  });

  async function authorizeUrl(extra: Record<string, string> = {}): Promise<{ url: string; state: string; verifier: string }> {
    const { verifier, challenge } = await pkce();
    const state = oauth.generateRandomState();
    const url = new URL(as.authorization_endpoint!);
    const params = { response_type: 'code', client_id: spa.client_id, redirect_uri: REDIRECT, scope: 'api.read', state, code_challenge: challenge, code_challenge_method: 'S256', ...extra };
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    return { url: url.toString(), state, verifier };
  }

  it('logs the user in at the provider and gives the client a code for its sub', async () => {
    const { url, state, verifier } = await authorizeUrl();
    const callback = await new Browser().login(url, 'alice', REDIRECT);
    const client = { client_id: spa.client_id };
    const params = oauth.validateAuthResponse(as, client, new URL(callback), state);
    const tokens = await oauth.processAuthorizationCodeResponse(as, client, await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, REDIRECT, verifier, INSECURE));
    const claims = await oauth.validateJwtAccessToken(as, new Request(`${og.issuer}/api`, { headers: bearer(tokens.access_token) }), og.issuer, INSECURE);
    expect(claims).toMatchObject({ sub: 'alice', client_id: spa.client_id, scope: 'api.read' });
  });

  it('two logins in two tabs of one browser both finish, in either order', async () => {
    const browser = new Browser();
    const tabs = [await authorizeUrl(), await authorizeUrl()];
    // Both started before either comes back (the second must not overwrite the first's binding).
    const started = [await browser.go(tabs[0]!.url), await browser.go(tabs[1]!.url)];
    for (const s of started) expect(s.status).toBe(302);
    for (const i of [0, 1]) {
      const callback = await browser.login(started[i]!.location!, 'erin', REDIRECT);
      const params = oauth.validateAuthResponse(as, { client_id: spa.client_id }, new URL(callback), tabs[i]!.state);
      expect(params.get('code'), `tab ${i + 1}`).toBeTruthy();
    }
  });

  it('answers an unknown client or an unregistered redirect URI with a 400 page, never a redirect', async () => {
    const tampered: Record<string, string>[] = [{ client_id: 'nobody' }, { redirect_uri: 'https://evil.example/callback' }];
    for (const extra of tampered) {
      const res = await http((await authorizeUrl(extra)).url);
      expect(res.status).toBe(400);
      expect(res.headers.location).toBeUndefined();
      expect(res.headers['content-type']).toMatch(/^text\/html/);
    }
    expect((await http((await authorizeUrl({ client_id: 'nobody' })).url)).text).toContain('unknown client_id');
  });

  it('redirects other errors to the client with error, state and iss', async () => {
    const { url, state } = await authorizeUrl({ code_challenge_method: 'plain' });
    const res = await http(url);
    expect(res.status).toBe(302);
    const location = new URL(String(res.headers.location));
    expect(Object.fromEntries(location.searchParams)).toMatchObject({ error: 'invalid_request', state, iss: og.issuer });
    expect(() => oauth.validateAuthResponse(as, { client_id: spa.client_id }, location, state)).toThrow();
  });

  it('tells the client access_denied when the user cancels at the provider', async () => {
    const { url, state } = await authorizeUrl();
    const callback = new URL(await new Browser().login(url, 'bob', REDIRECT, { abort: true }));
    expect(Object.fromEntries(callback.searchParams)).toMatchObject({ error: 'access_denied', state, iss: og.issuer });
  });

  it('refuses a callback that comes back in another browser, or with a forged state', async () => {
    const { url } = await authorizeUrl();
    const victim = new Browser();
    const start = await victim.go(url);
    expect(start.status).toBe(302);
    const cookie = String(start.headers['set-cookie']);
    expect(cookie).toMatch(/tollgate_oauth2_login_[0-9a-f]{16}=.*HttpOnly.*SameSite=Lax/);
    // The provider's redirect back to tollgate, opened by an attacker's browser without the cookie.
    const attacker = new Browser();
    const back = await victim.login(start.location!, 'carol', `${og.issuer}/oauth2/callback`);
    const stolen = await attacker.go(back);
    expect([stolen.status, stolen.location]).toEqual([400, null]);
    expect(stolen.text).toContain('another browser');
    // The state is single use: the real browser cannot finish it after that either.
    expect((await victim.go(back)).status).toBe(400);
    expect((await attacker.go(`${og.issuer}/oauth2/callback?state=forged&code=x`)).text).toContain('expired');
  });
});

describe('oauth2 browser flow with an issuer that has a path', () => {
  // docs/oauth.md: an issuer such as https://example.com/auth assumes a proxy in front that
  // strips /auth; the browser then comes back to <issuer>/oauth2/callback, under /auth.
  let og: OAuthGateway;
  let idp: TestIdp;
  let spa: { client_id: string };
  beforeAll(async () => {
    const idpPort = await freePort();
    og = await startOAuthGateway((issuer) => ({
      gateway: { issuer: `${issuer}/auth`, signing_keys: [{ kid: 'k1', private_key_file: keyFile() }] },
      plugins: [{ name: 'oauth2', config: { identity_provider: { issuer: `http://127.0.0.1:${idpPort}`, client_id: 'tollgate', client_secret: 'tollgate-secret' } } }],
      services: [{ name: 'echo', url: 'http://127.0.0.1:9', routes: [{ name: 'api', paths: ['/api'] }] }],
      consumers: [{ username: 'web' }],
    }));
    idp = startIdp(idpPort, { client_id: 'tollgate', client_secret: 'tollgate-secret', redirect_uris: [`${og.issuer}/auth/oauth2/callback`] });
    spa = await registerClient(og.gw, 'web', { client_type: 'public' });
  });
  afterAll(async () => {
    await og?.gw.stop();
    await idp?.close();
  });

  it('sets the login cookie on the callback path the browser comes back to', async () => {
    const { challenge } = await pkce();
    const q = new URLSearchParams({ response_type: 'code', client_id: spa.client_id, redirect_uri: REDIRECT, state: 's', code_challenge: challenge, code_challenge_method: 'S256' });
    const res = await http(`${og.issuer}/oauth2/authorize?${q}`); // what the stripping proxy forwards
    expect(res.status).toBe(302);
    const back = new URL(new URL(String(res.headers.location)).searchParams.get('redirect_uri')!);
    expect(back.pathname).toBe('/auth/oauth2/callback');
    expect(String(res.headers['set-cookie'])).toMatch(/; Path=\/auth\/oauth2\/callback;/);
  });
});
