import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { startUpstream, type TestUpstream } from '../../../test/helpers/upstream.js';
import * as oauth from 'oauth4webapi';
import { bearer, codeFlow, discover, http, keyFile, registerClient, startOAuthGateway, type OAuthGateway } from '../../../test/helpers/oauth.js';
import { waitFor } from '../../../test/helpers/ports.js';
import { rsaPair, seedToken } from '../../../test/helpers/jwt.js';
import { startAuthService, type FakeAuthService } from '../../../test/helpers/authService.js';

const consumerKey = rsaPair(2048);

/**
 * What the OAuth review found: scopes nobody listed, a body that never arrives, redirect URIs
 * the URL parser reads differently from a regex, grant types named like Object's properties.
 */
describe('oauth2 hardening', () => {
  let up: TestUpstream;
  let og: OAuthGateway;
  let client: { client_id: string; client_secret?: string };
  let authService: FakeAuthService;

  beforeAll(async () => {
    up = await startUpstream();
    authService = await startAuthService();
    og = await startOAuthGateway(
      (issuer) => ({
        gateway: { issuer, headers_timeout: 2, signing_keys: [{ kid: 'k1', private_key_file: keyFile() }] },
        // No `scopes`: as in Kong, no scope can be granted.
        plugins: [{ name: 'oauth2', config: { enable_client_credentials: true } }],
        services: [
          {
            name: 'echo',
            url: up.url,
            routes: [
              { name: 'write', paths: ['/write'], plugins: [{ name: 'access-control', config: { required_scopes: ['api.write'] } }] },
              { name: 'mixed', paths: ['/mixed'], plugins: [{ name: 'oauth2', config: { enable_client_credentials: true } }, { name: 'jwt' }] },
              { name: 'svc', paths: ['/svc'], plugins: [{ name: 'oauth2', config: { enable_client_credentials: true } }, { name: 'custom-auth-pre-function', config: { auth_service_url: authService.url } }] },
            ],
          },
        ],
        consumers: [{ username: 'app', jwt_secrets: [{ key: 'app-key', algorithm: 'RS256', rsa_public_key: consumerKey.publicPem }] }],
      }),
    );
    client = await registerClient(og.gw, 'app', { client_secret: 'secret-of-the-client' });
  });
  afterAll(async () => {
    await og?.gw.stop();
    await up?.close();
    await authService?.close();
  });

  const token = (extra: Record<string, string>) =>
    http(`${og.issuer}/oauth2/token`, { form: { grant_type: 'client_credentials', client_id: client.client_id, client_secret: client.client_secret!, ...extra } });

  it('with no scopes configured, a client cannot give itself one (Kong: invalid_scope); without a scope it gets a token that carries none', async () => {
    const asked = await token({ scope: 'api.write superuser' });
    expect(asked.status).toBe(400);
    expect(asked.json()).toMatchObject({ error: 'invalid_scope' });
    const plain = await token({});
    expect(plain.status).toBe(200);
    const { access_token } = plain.json<{ access_token: string }>();
    expect((await http(`${og.issuer}/write/x`, { headers: bearer(access_token) })).status).toBe(403);
  });

  it('an OAuth endpoint whose body stops arriving answers 408 after gateway.headers_timeout and closes the connection', async () => {
    const { port } = new URL(og.issuer);
    const socket = connect(Number(port), '127.0.0.1');
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write('POST /oauth2/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type');
    await closed; // the test's own timeout fails a connection held open
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toContain('"error":"invalid_request"');
    expect(answer).toContain('did not arrive in time');
  });

  it('the token, revoke and introspect endpoints answer a wrong method or a body too large in RFC 6749 §5.2 JSON, with no-store', async () => {
    const wrong = await http(`${og.issuer}/oauth2/token`);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toBe('POST');
    expect(wrong.headers['cache-control']).toBe('no-store');
    expect(wrong.json()).toEqual({ error: 'invalid_request', error_description: 'Method GET is not allowed on /oauth2/token' });
    const big = await http(`${og.issuer}/oauth2/revoke`, { form: { token: 'x'.repeat(100 * 1024) } });
    expect(big.status).toBe(413);
    expect(big.json()).toMatchObject({ error: 'invalid_request' });
    expect(big.headers['cache-control']).toBe('no-store');
  });

  it('refuses redirect URIs whose scheme the URL parser reads as javascript: (tabs, control characters) and non-web schemes', async () => {
    for (const uri of ['java\tscript:alert(document.domain)//', '\u0001javascript:alert(1)', ' javascript:alert(1)', 'file:///etc/passwd', 'JaVaScRiPt:alert(1)']) {
      const res = await http(`${og.gw.adminUrl}/consumers/app/oauth2`, { body: JSON.stringify({ name: 'x', redirect_uris: [uri] }), headers: { 'content-type': 'application/json' } });
      expect(res.status, JSON.stringify(uri)).toBe(400);
    }
    // what native and loopback apps use (RFC 8252) is still fine
    for (const uri of ['com.example.app:/callback', 'http://127.0.0.1:8123/cb', 'https://app.example.com/cb']) {
      const res = await http(`${og.gw.adminUrl}/consumers/app/oauth2`, { body: JSON.stringify({ name: 'ok', redirect_uris: [uri] }), headers: { 'content-type': 'application/json' } });
      expect(res.status, uri).toBe(201);
    }
  });

  it("beside jwt or an auth service, a token they refuse is told their reason, not oauth2's 'not issued by this gateway'", async () => {
    const expired = await seedToken(consumerKey, 'app-key', 'u', { exp: Math.floor(Date.now() / 1000) - 60 });
    const res = await http(`${og.issuer}/mixed/x`, { headers: bearer(expired) });
    expect(res.status).toBe(401);
    expect(res.json()).toMatchObject({ message: 'token expired' });
    expect((await http(`${og.issuer}/mixed/x`, { headers: bearer(await seedToken(consumerKey, 'app-key', 'u')) })).status).toBe(200);
    // beside the auth service: a JWT of another issuer that the service refused gets the service's answer
    const foreign = await seedToken(rsaPair(2048), 'elsewhere', 'u');
    const refused = await http(`${og.issuer}/svc/x`, { headers: bearer(foreign) });
    expect(refused.status).toBe(401);
    expect(refused.json()).toMatchObject({ message: 'Unauthorized' });
  });

  it('a grant_type named like an Object property is unsupported, with a string description', async () => {
    for (const grant of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      const res = await token({ grant_type: grant });
      expect(res.status, grant).toBe(400);
      expect(res.json(), grant).toEqual({ error: 'unsupported_grant_type', error_description: `grant_type '${grant}' is not supported` });
    }
  });
});

describe('oauth2: a scope taken off the list', () => {
  it('is not renewed by a refresh token granted before (the refreshed token carries only what is still listed)', async () => {
    const up = await startUpstream();
    const PROVISION = 'provision-key-0123456789';
    const build = (scopes: string[]) => (issuer: string) => ({
      gateway: { issuer, signing_keys: [{ kid: 'k1', private_key_file: keyFile() }] },
      plugins: [{ name: 'oauth2', config: { provision_key: PROVISION, scopes } }],
      services: [{ name: 'echo', url: up.url, routes: [{ name: 'api', paths: ['/api'] }] }],
      consumers: [{ username: 'app' }],
    });
    const og = await startOAuthGateway(build(['api.read', 'api.write']));
    try {
      const c = await registerClient(og.gw, 'app', { client_secret: 'secret-of-the-client' });
      const as = await discover(og.issuer);
      const first = await codeFlow(as, { clientId: c.client_id, auth: oauth.ClientSecretPost(c.client_secret!), provisionKey: PROVISION, user: 'u1', scope: 'api.read api.write' });
      expect(first.scope).toBe('api.read api.write');
      og.gw.writeConfig(build(['api.read'])(og.issuer));
      og.gw.signal('SIGHUP');
      await waitFor(async () => {
        const doc = (await http(`${og.issuer}/.well-known/oauth-authorization-server`)).json<{ scopes_supported?: string[] }>();
        return JSON.stringify(doc.scopes_supported) === '["api.read"]' || undefined;
      }, 'the reload', 10_000);
      const refreshed = await http(`${og.issuer}/oauth2/token`, { form: { grant_type: 'refresh_token', refresh_token: first.refresh_token!, client_id: c.client_id, client_secret: c.client_secret! } });
      expect(refreshed.status).toBe(200);
      expect(refreshed.json<{ scope: string }>().scope).toBe('api.read');
    } finally {
      await og.gw.stop();
      await up.close();
    }
  });
});
