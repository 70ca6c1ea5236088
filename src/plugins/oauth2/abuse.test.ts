import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as oauth from 'oauth4webapi';
import { Agent, request } from 'undici';
import { startUpstream, type TestUpstream } from '../../../test/helpers/upstream.js';
import { startGateway, type GatewayProcess } from '../../../test/helpers/gateway.js';
import { freePort } from '../../../test/helpers/ports.js';
import { bearer, codeFlow, discover, http, keyFile, pkce, provisionAuthorize, REDIRECT, registerClient, startOAuthGateway, type OAuthGateway } from '../../../test/helpers/oauth.js';

/**
 * The abuse list of the issue, each refused the way RFC 6749 / 7636 / 9700 say: code replay
 * (and what it issued revoked), PKCE mismatches and downgrades, redirect URI and client
 * tampering, refresh token reuse (grant revoked) and scope widening, an expired code, client
 * authentication failures, removed grants, plain HTTP with an https issuer.
 */

const PROVISION = 'provision-key-0123456789';

function route(up: TestUpstream, settings: Record<string, unknown>) {
  return (issuer: string) => ({
    gateway: { issuer, signing_keys: [{ kid: 'k1', private_key_file: keyFile() }] },
    services: [{ name: 'echo', url: up.url, routes: [{ name: 'api', paths: ['/api'], plugins: [{ name: 'oauth2', config: { provision_key: PROVISION, ...settings } }] }] }],
    consumers: [{ username: 'admin' }, { username: 'other' }],
  });
}

describe('oauth2 abuse (pkce strict)', () => {
  let up: TestUpstream;
  let og: OAuthGateway;
  let as: oauth.AuthorizationServer;
  let client: { client_id: string; client_secret?: string };
  let form: (extra: Record<string, string>) => Record<string, string>;

  /** A code for `client`, with the PKCE pair that goes with it (`redirectUri: null`: none sent). */
  async function code(p: { scope?: string; state?: string; clientId?: string; redirectUri?: string | null } = {}): Promise<{ code: string; verifier: string }> {
    const { verifier, challenge } = await pkce();
    const params: Record<string, string> = {
      response_type: 'code',
      redirect_uri: p.redirectUri ?? REDIRECT,
      client_id: p.clientId ?? client.client_id,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      provision_key: PROVISION,
      authenticated_userid: 'user-1',
      ...(p.scope ? { scope: p.scope } : {}),
      ...(p.state ? { state: p.state } : {}),
    };
    if (p.redirectUri === null) delete params.redirect_uri;
    const res = await http(`${og.issuer}/oauth2/authorize`, { form: params });
    return { code: new URL(res.json<{ redirect_uri: string }>().redirect_uri).searchParams.get('code')!, verifier };
  }
  const token = (params: Record<string, string>) => http(`${og.issuer}/oauth2/token`, { form: form(params) });

  beforeAll(async () => {
    up = await startUpstream();
    og = await startOAuthGateway(route(up, { scopes: ['api.read', 'api.write'] }));
    as = await discover(og.issuer);
    client = await registerClient(og.gw, 'admin', { client_secret: 'secret-of-the-client' });
    form = (extra) => ({ client_id: client.client_id, client_secret: client.client_secret!, ...extra });
  });
  afterAll(async () => {
    await og?.gw.stop();
    await up?.close();
  });

  it('a replayed code is refused and every token issued from it is revoked', async () => {
    const c = await code();
    const first = await token({ grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier });
    expect(first.status).toBe(200);
    const { access_token, refresh_token } = first.json<{ access_token: string; refresh_token: string }>();
    expect((await http(`${og.issuer}/api/x`, { headers: bearer(access_token) })).status).toBe(200);
    const replay = await token({ grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier });
    expect([replay.status, replay.json().error]).toEqual([400, 'invalid_grant']);
    expect(replay.headers['cache-control']).toBe('no-store');
    expect((await http(`${og.issuer}/api/x`, { headers: bearer(access_token) })).status).toBe(401);
    expect((await token({ grant_type: 'refresh_token', refresh_token })).json().error).toBe('invalid_grant');
  });

  it('refuses a wrong verifier, a missing verifier, and a code of another client', async () => {
    const c = await code();
    const other = await pkce();
    expect((await token({ grant_type: 'authorization_code', code: c.code, code_verifier: other.verifier })).json()).toMatchObject({ error: 'invalid_grant', error_description: expect.stringContaining('does not match') });
    expect((await token({ grant_type: 'authorization_code', code: c.code })).json()).toMatchObject({ error: 'invalid_grant', error_description: expect.stringContaining('required') });
    const thief = await registerClient(og.gw, 'other', { client_secret: 'thief-secret-0000' });
    const stolen = await http(`${og.issuer}/oauth2/token`, { form: { grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier, client_id: thief.client_id, client_secret: thief.client_secret! } });
    expect(stolen.json().error).toBe('invalid_grant');
    // None of the failures burnt the code for its rightful client.
    expect((await token({ grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier })).status).toBe(200);
  });

  it('refuses a redirect_uri that differs from the authorization request at the token endpoint', async () => {
    const c = await code();
    const res = await token({ grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier, redirect_uri: 'https://your-app.com/other' });
    expect(res.json().error).toBe('invalid_grant');
  });

  it('binds the code to the redirect_uri of its request; with PKCE the token request may leave it out, as the seed exchange does', async () => {
    const second = 'https://your-app.com/second';
    const two = await registerClient(og.gw, 'other', { client_secret: 'secret-of-the-second', redirect_uris: [REDIRECT, second] });
    const asTwo = (extra: Record<string, string>) => http(`${og.issuer}/oauth2/token`, { form: { client_id: two.client_id, client_secret: 'secret-of-the-second', ...extra } });
    const viaSecond = await code({ clientId: two.client_id, redirectUri: second });
    const other = await asTwo({ grant_type: 'authorization_code', code: viaSecond.code, code_verifier: viaSecond.verifier, redirect_uri: REDIRECT });
    expect([other.status, other.json().error]).toEqual([400, 'invalid_grant']);
    const left = await code({ clientId: two.client_id, redirectUri: second });
    const leftOut = await asTwo({ grant_type: 'authorization_code', code: left.code, code_verifier: left.verifier });
    expect([leftOut.status, typeof leftOut.json().access_token]).toEqual([200, 'string']);
    // Not sent at /authorize (the client's only URI was used): if sent at /token, it must be that URI.
    const implicit = await code({ redirectUri: null });
    const wrong = await token({ grant_type: 'authorization_code', code: implicit.code, code_verifier: implicit.verifier, redirect_uri: second });
    expect(wrong.json().error).toBe('invalid_grant');
    const implicit2 = await code({ redirectUri: null });
    const right = await token({ grant_type: 'authorization_code', code: implicit2.code, code_verifier: implicit2.verifier, redirect_uri: REDIRECT });
    expect(right.status).toBe(200);
  });

  it('never redirects to an unregistered redirect URI or for an unknown client', async () => {
    const { challenge } = await pkce();
    const base = { code_challenge: challenge, code_challenge_method: 'S256', provision_key: PROVISION, authenticated_userid: 'u', state: 's' };
    const badUri = await provisionAuthorize(og.issuer, { ...base, client_id: client.client_id, redirect_uri: 'https://evil.example/callback' });
    expect(badUri.status).toBe(400);
    expect(badUri.json()).toEqual({ error: 'invalid_request', error_description: expect.stringContaining('redirect_uri') });
    const prefix = await provisionAuthorize(og.issuer, { ...base, client_id: client.client_id, redirect_uri: `${REDIRECT}/../evil` });
    expect(prefix.json().redirect_uri).toBeUndefined();
    const unknown = await provisionAuthorize(og.issuer, { ...base, client_id: 'nobody' });
    expect([unknown.status, unknown.json().error, unknown.json().redirect_uri]).toEqual([400, 'invalid_client', undefined]);
  });

  it('redirects other authorization errors with error, state and iss', async () => {
    const { challenge } = await pkce();
    const ask = async (extra: Record<string, string>) => {
      const res = await provisionAuthorize(og.issuer, { client_id: client.client_id, provision_key: PROVISION, authenticated_userid: 'u', state: 'st-1', ...extra });
      expect(res.status).toBe(400);
      const url = new URL(res.json<{ redirect_uri: string }>().redirect_uri);
      expect(url.origin + url.pathname).toBe(REDIRECT);
      expect([url.searchParams.get('state'), url.searchParams.get('iss')]).toEqual(['st-1', og.issuer]);
      return url.searchParams.get('error');
    };
    expect(await ask({})).toBe('invalid_request'); // no code_challenge under pkce: strict
    expect(await ask({ code_challenge: challenge, code_challenge_method: 'plain' })).toBe('invalid_request');
    expect(await ask({ code_challenge: challenge })).toBe('invalid_request'); // method absent means plain
    expect(await ask({ code_challenge: challenge, code_challenge_method: 'S256', scope: 'api.read root' })).toBe('invalid_scope');
    expect(await ask({ code_challenge: challenge, code_challenge_method: 'S256', response_type: 'token' })).toBe('unsupported_response_type');
  });

  it('refuses a wrong provision key and a missing authenticated_userid without redirecting', async () => {
    const wrong = await provisionAuthorize(og.issuer, { client_id: client.client_id, provision_key: 'guess' });
    expect([wrong.status, wrong.json().error]).toEqual([400, 'invalid_provision_key']);
    const anon = await provisionAuthorize(og.issuer, { client_id: client.client_id, provision_key: PROVISION });
    expect(anon.json().error).toBe('invalid_authenticated_userid');
    // the user id becomes the tokens' sub: empty or over 255 characters (OIDC's bound, as the browser flow has it) is refused
    for (const authenticated_userid of ['', 'u'.repeat(256)]) {
      const bad = await provisionAuthorize(og.issuer, { client_id: client.client_id, provision_key: PROVISION, authenticated_userid });
      expect([bad.status, bad.json().error], `${authenticated_userid.length} characters: ${bad.text}`).toEqual([400, 'invalid_authenticated_userid']);
    }
  });

  it('refresh token reuse revokes the whole grant; a refresh may not widen the scope', async () => {
    const t = await codeFlow(as, { clientId: client.client_id, auth: oauth.ClientSecretPost(client.client_secret!), provisionKey: PROVISION, user: 'u', scope: 'api.read' });
    const wider = await token({ grant_type: 'refresh_token', refresh_token: t.refresh_token!, scope: 'api.read api.write' });
    expect([wider.status, wider.json().error]).toEqual([400, 'invalid_scope']);
    const rotated = await token({ grant_type: 'refresh_token', refresh_token: t.refresh_token! });
    expect(rotated.status).toBe(200);
    const next = rotated.json<{ access_token: string; refresh_token: string }>();
    const reuse = await token({ grant_type: 'refresh_token', refresh_token: t.refresh_token! });
    expect(reuse.json()).toMatchObject({ error: 'invalid_grant', error_description: expect.stringContaining('revoked') });
    expect((await http(`${og.issuer}/api/x`, { headers: bearer(next.access_token) })).status).toBe(401);
    expect((await http(`${og.issuer}/api/x`, { headers: bearer(t.access_token) })).status).toBe(401);
    expect((await token({ grant_type: 'refresh_token', refresh_token: next.refresh_token })).json().error).toBe('invalid_grant');
  });

  it('client authentication failures: 401 invalid_client, with WWW-Authenticate when Basic was used', async () => {
    const basic = await http(`${og.issuer}/oauth2/token`, {
      form: { grant_type: 'authorization_code', code: 'x' },
      headers: { authorization: `Basic ${Buffer.from(`${client.client_id}:wrong`).toString('base64')}` },
    });
    expect([basic.status, basic.json().error]).toEqual([401, 'invalid_client']);
    expect(basic.headers['www-authenticate']).toMatch(/^Basic realm="tollgate"/);
    const post = await token({ grant_type: 'authorization_code', code: 'x', client_secret: 'wrong' });
    expect([post.status, post.json().error]).toEqual([401, 'invalid_client']);
    const unknown = await http(`${og.issuer}/oauth2/token`, { form: { grant_type: 'authorization_code', code: 'x', client_id: 'nobody', client_secret: 'x' } });
    expect(unknown.json().error).toBe('invalid_client');
    const noSecret = await http(`${og.issuer}/oauth2/token`, { form: { grant_type: 'authorization_code', code: 'x', client_id: client.client_id } });
    expect([noSecret.status, noSecret.json().error]).toEqual([401, 'invalid_client']);
  });

  it('refuses removed, disabled and malformed requests', async () => {
    expect((await token({ grant_type: 'password', username: 'a', password: 'b' })).json().error).toBe('unsupported_grant_type');
    expect((await token({ grant_type: 'client_credentials' })).json().error).toBe('unsupported_grant_type'); // not enabled here
    // What the client sent is quoted in the description only as RFC 6749 §5.2 allows (no ", \\, non-ASCII).
    const odd = (await token({ grant_type: 'foo"bar\\é' })).json();
    expect(odd).toEqual({ error: 'unsupported_grant_type', error_description: "grant_type 'foo?bar??' is not supported" });
    expect((await token({})).json().error).toBe('invalid_request');
    const twice = await http(`${og.issuer}/oauth2/token`, { body: 'grant_type=authorization_code&code=a&code=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(twice.json()).toMatchObject({ error: 'invalid_request', error_description: expect.stringContaining('repeated') });
  });

  it('answers GET /oauth2/authorize with a 400 page when no identity_provider is configured', async () => {
    const res = await http(`${og.issuer}/oauth2/authorize?response_type=code&client_id=${client.client_id}`);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toContain('only the provision-key flow');
  });
});

describe('oauth2 abuse (pkce lax, 1 s codes)', () => {
  let up: TestUpstream;
  let og: OAuthGateway;
  let client: { client_id: string; client_secret?: string };

  beforeAll(async () => {
    up = await startUpstream();
    og = await startOAuthGateway(route(up, { pkce: 'lax', code_ttl: 1 }));
    client = await registerClient(og.gw, 'admin', { client_secret: 'secret-of-the-client' });
  });
  afterAll(async () => {
    await og?.gw.stop();
    await up?.close();
  });

  const noPkceCode = async (clientId: string) => {
    const res = await provisionAuthorize(og.issuer, { client_id: clientId, provision_key: PROVISION, authenticated_userid: 'u' });
    return new URL(res.json<{ redirect_uri: string }>().redirect_uri).searchParams;
  };

  it('refuses a code_verifier when the authorization request had no challenge (downgrade)', async () => {
    const code = (await noPkceCode(client.client_id)).get('code')!;
    const { verifier } = await pkce();
    const res = await http(`${og.issuer}/oauth2/token`, { form: { grant_type: 'authorization_code', code, code_verifier: verifier, client_id: client.client_id, client_secret: client.client_secret! } });
    expect(res.json()).toMatchObject({ error: 'invalid_grant', error_description: expect.stringContaining('no code_challenge') });
  });

  it('still requires PKCE from public clients', async () => {
    const pub = await registerClient(og.gw, 'admin', { name: 'SPA', client_type: 'public' });
    expect((await noPkceCode(pub.client_id)).get('error')).toBe('invalid_request');
  });

  it('refuses an expired code', async () => {
    const code = (await noPkceCode(client.client_id)).get('code')!;
    await new Promise((r) => setTimeout(r, 1200));
    const res = await http(`${og.issuer}/oauth2/token`, { form: { grant_type: 'authorization_code', code, client_id: client.client_id, client_secret: client.client_secret! } });
    expect(res.json()).toMatchObject({ error: 'invalid_grant', error_description: 'authorization code expired' });
  });
});

describe('oauth2 with an https issuer', () => {
  let gw: GatewayProcess;
  let tls: number;
  const insecure = new Agent({ connect: { rejectUnauthorized: false } });

  beforeAll(async () => {
    tls = await freePort();
    gw = await startGateway(
      {
        gateway: { issuer: `https://127.0.0.1:${tls}`, signing_keys: [{ kid: 'k1', private_key_file: keyFile() }] },
        plugins: [{ name: 'oauth2', config: { provision_key: PROVISION } }],
      },
      { env: { TOLLGATE_PROXY_TLS_LISTEN: `127.0.0.1:${tls}` } },
    );
  });
  afterAll(async () => {
    await gw?.stop();
    await insecure.close();
  });

  it('refuses plain HTTP on the endpoints and serves them over TLS', async () => {
    const plain = await http(`${gw.url}/oauth2/token`, { form: { grant_type: 'client_credentials', client_id: 'x', client_secret: 'y' } });
    expect(plain.json()).toMatchObject({ error: 'invalid_request', error_description: expect.stringContaining('HTTPS is required') });
    const res = await request(`https://127.0.0.1:${tls}/oauth2/token`, {
      method: 'POST',
      dispatcher: insecure,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=authorization_code&code=x&client_id=x&client_secret=y',
    });
    expect(res.statusCode).toBe(401);
    expect(((await res.body.json()) as { error: string }).error).toBe('invalid_client');
  });
});
