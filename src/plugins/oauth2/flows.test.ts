import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oauth from 'oauth4webapi';
import { startUpstream, type TestUpstream } from '../../../test/helpers/upstream.js';
import { waitFor } from '../../../test/helpers/ports.js';
import { bearer, codeFlow, discover, http, INSECURE, keyFile, registerClient, startOAuthGateway, type OAuthGateway } from '../../../test/helpers/oauth.js';

/**
 * The oauth2 plugin's flows through a real gateway, driven by oauth4webapi as the independent
 * client (it checks the metadata, `iss` and `state` of every authorization response, and the
 * shape of every token response): the seed's registration and token exchange, Basic and public
 * clients, refresh rotation, client_credentials, revocation, introspection, the Admin API's
 * token view, identity headers upstream, the audit record of the endpoints, key rotation.
 */

const PROVISION = 'provision-key-0123456789';
const SETTINGS = { provision_key: PROVISION, scopes: ['api.read', 'api.write', 'admin'], enable_client_credentials: true };

interface Echo {
  headers: Record<string, string>;
}

describe('oauth2 flows', () => {
  let up: TestUpstream;
  let og: OAuthGateway;
  let as: oauth.AuthorizationServer;
  let confidential: { client_id: string; client_secret?: string };
  const key1 = keyFile();
  const key2 = keyFile();
  const auditDir = mkdtempSync(join(tmpdir(), 'tollgate-oauth-audit-'));
  const auditFile = join(auditDir, 'audit.log');

  const build = (keys: string[]) => (issuer: string) => ({
    gateway: { issuer, signing_keys: keys.map((file, i) => ({ kid: `k${keys.length - i}`, private_key_file: file })) },
    plugins: [{ name: 'audit-log', config: { path: auditFile } }],
    services: [
      {
        name: 'echo',
        url: up.url,
        routes: [
          { name: 'api', paths: ['/api'], plugins: [{ name: 'oauth2', config: SETTINGS }] },
          { name: 'hidden', paths: ['/hidden'], plugins: [{ name: 'oauth2', config: { ...SETTINGS, hide_credentials: true } }] },
          { name: 'public', paths: ['/public'] },
          { name: 'jwt', paths: ['/jwt'], plugins: [{ name: 'jwt' }] },
        ],
      },
    ],
    consumers: [{ username: 'admin' }],
  });

  const userFlow = (clientId: string, auth: oauth.ClientAuth, scope?: string) => codeFlow(as, { clientId, auth, provisionKey: PROVISION, user: 'user-123', scope });
  const api = (token: string, path = '/api/chat') => http(`${og.issuer}${path}`, { headers: bearer(token) });

  beforeAll(async () => {
    up = await startUpstream();
    og = await startOAuthGateway(build([key1]));
    as = await discover(og.issuer);
    confidential = await registerClient(og.gw, 'admin', { client_id: 'your-client-id', client_secret: 'your-client-secret' });
  });
  afterAll(async () => {
    await og?.gw.stop();
    await up?.close();
  });

  it('publishes RFC 8414 metadata and the JWKS', async () => {
    expect(as).toMatchObject({
      issuer: og.issuer,
      token_endpoint: `${og.issuer}/oauth2/token`,
      authorization_response_iss_parameter_supported: true,
      code_challenge_methods_supported: ['S256'],
      grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
    });
    const jwks = await http(`${og.issuer}/.well-known/jwks.json`);
    expect(jwks.json<{ keys: Array<{ kid: string; kty: string; alg: string }> }>().keys).toEqual([expect.objectContaining({ kid: 'k1', kty: 'RSA', alg: 'RS256' })]);
  });

  it('registers the seed client with a form body; the secret is never shown again', async () => {
    expect(confidential).toMatchObject({ client_id: 'your-client-id', client_secret: 'your-client-secret' });
    const listed = await http(`${og.gw.adminUrl}/consumers/admin/oauth2`);
    expect(listed.json<{ data: Array<Record<string, unknown>> }>().data[0]).toMatchObject({ client_id: 'your-client-id', redirect_uris: ['https://your-app.com/callback'] });
    expect(listed.text).not.toContain('your-client-secret');
    expect((await http(`${og.gw.adminUrl}/consumers/admin/oauth2/your-client-id`)).text).not.toContain('client_secret');
  });

  it('runs the seed flow (client_secret_post) and the token works on the protected route with the identity upstream', async () => {
    const tokens = await userFlow(confidential.client_id, oauth.ClientSecretPost(confidential.client_secret!));
    expect(tokens).toMatchObject({ token_type: 'bearer', expires_in: 7200, scope: 'api.read api.write' });
    expect(tokens.refresh_token).toEqual(expect.any(String));
    const claims = await oauth.validateJwtAccessToken(as, new Request(`${og.issuer}/api`, { headers: bearer(tokens.access_token) }), og.issuer, INSECURE);
    expect(claims).toMatchObject({ iss: og.issuer, sub: 'user-123', client_id: 'your-client-id', scope: 'api.read api.write' });
    const res = await api(tokens.access_token);
    expect(res.status).toBe(200);
    const h = res.json<Echo>().headers;
    expect(h).toMatchObject({
      'x-user-id': 'user-123',
      'x-authenticated-userid': 'user-123',
      'x-client-id': 'your-client-id',
      'x-credential-identifier': 'your-client-id',
      'x-authenticated-scope': 'api.read api.write',
      'x-consumer-username': 'admin',
    });
    expect(h.authorization).toBe(`Bearer ${tokens.access_token}`);
  });

  it('answers token requests with Cache-Control: no-store', async () => {
    const res = await http(`${og.issuer}/oauth2/token`, { form: { grant_type: 'client_credentials', client_id: confidential.client_id, client_secret: confidential.client_secret! } });
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.json()).toMatchObject({ token_type: 'Bearer', expires_in: 7200, scope: '' });
  });

  it('authenticates a confidential client with client_secret_basic and a public client with none', async () => {
    const basic = await userFlow(confidential.client_id, oauth.ClientSecretBasic(confidential.client_secret!), 'admin');
    expect(basic.scope).toBe('admin');
    const pub = await registerClient(og.gw, 'admin', { name: 'SPA', client_type: 'public' });
    expect(pub.client_secret).toBeUndefined();
    const tokens = await userFlow(pub.client_id, oauth.None());
    expect((await api(tokens.access_token)).json<Echo>().headers['x-client-id']).toBe(pub.client_id);
  });

  it('rotates refresh tokens; a refresh may narrow the scope', async () => {
    const first = await userFlow(confidential.client_id, oauth.ClientSecretPost(confidential.client_secret!));
    const client = { client_id: confidential.client_id };
    const auth = oauth.ClientSecretBasic(confidential.client_secret!);
    const res = await oauth.refreshTokenGrantRequest(as, client, auth, first.refresh_token!, { ...INSECURE, additionalParameters: { scope: 'api.read' } });
    const second = await oauth.processRefreshTokenResponse(as, client, res);
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(second.scope).toBe('api.read');
    expect((await api(second.access_token)).json<Echo>().headers['x-authenticated-scope']).toBe('api.read');
    // The refresh token keeps the grant's scope: the next refresh may ask for all of it again.
    const third = await oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, auth, second.refresh_token!, INSECURE));
    expect(third.scope).toBe('api.read api.write');
    expect((await api(first.access_token)).status).toBe(200);
  });

  it('issues client_credentials tokens to confidential clients only, without a refresh token', async () => {
    const client = { client_id: confidential.client_id };
    const res = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(confidential.client_secret!), { scope: 'admin' }, INSECURE);
    const tokens = await oauth.processClientCredentialsResponse(as, client, res);
    expect(tokens.refresh_token).toBeUndefined();
    expect((await api(tokens.access_token)).json<Echo>().headers['x-user-id']).toBe('your-client-id');
    const pub = await registerClient(og.gw, 'admin', { name: 'CLI', client_type: 'public' });
    const refused = await http(`${og.issuer}/oauth2/token`, { form: { grant_type: 'client_credentials', client_id: pub.client_id } });
    expect([refused.status, refused.json().error]).toEqual([400, 'unauthorized_client']);
  });

  it('revokes (RFC 7009): an access token alone, or a refresh token with its whole grant', async () => {
    const client = { client_id: confidential.client_id };
    const auth = oauth.ClientSecretPost(confidential.client_secret!);
    const a = await userFlow(client.client_id, auth);
    await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, auth, a.access_token, INSECURE));
    const refused = await api(a.access_token);
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
    const refreshed = await oauth.refreshTokenGrantRequest(as, client, auth, a.refresh_token!, INSECURE);
    expect((await oauth.processRefreshTokenResponse(as, client, refreshed)).access_token).toEqual(expect.any(String));

    const b = await userFlow(client.client_id, auth);
    await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, auth, b.refresh_token!, INSECURE));
    expect((await api(b.access_token)).status).toBe(401);
    const again = await http(`${og.issuer}/oauth2/token`, { form: { grant_type: 'refresh_token', refresh_token: b.refresh_token!, client_id: client.client_id, client_secret: confidential.client_secret! } });
    expect(again.json().error).toBe('invalid_grant');
    // Unknown tokens are answered 200 too.
    await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, auth, 'not-a-token', INSECURE));
  });

  it('introspects (RFC 7662) access and refresh tokens for a confidential client', async () => {
    const client = { client_id: confidential.client_id };
    const auth = oauth.ClientSecretBasic(confidential.client_secret!);
    const t = await userFlow(client.client_id, auth);
    const active = await oauth.processIntrospectionResponse(as, client, await oauth.introspectionRequest(as, client, auth, t.access_token, INSECURE));
    expect(active).toMatchObject({ active: true, sub: 'user-123', client_id: 'your-client-id', scope: 'api.read api.write', token_type: 'Bearer', jti: expect.any(String) });
    const refresh = await oauth.processIntrospectionResponse(as, client, await oauth.introspectionRequest(as, client, auth, t.refresh_token!, INSECURE));
    expect(refresh).toMatchObject({ active: true, token_type: 'refresh_token', sub: 'user-123' });
    await oauth.revocationRequest(as, client, auth, t.refresh_token!, INSECURE);
    const gone = await oauth.processIntrospectionResponse(as, client, await oauth.introspectionRequest(as, client, auth, t.access_token, INSECURE));
    expect(gone).toEqual({ active: false });
  });

  it('shows a token in the Admin API and DELETE /oauth2_tokens/{id} revokes it at once', async () => {
    const t = await userFlow(confidential.client_id, oauth.ClientSecretPost(confidential.client_secret!));
    const { jti } = JSON.parse(Buffer.from(t.access_token.split('.')[1]!, 'base64url').toString()) as { jti: string };
    const view = await http(`${og.gw.adminUrl}/oauth2_tokens/${jti}`);
    expect(view.json()).toMatchObject({ id: jti, client_id: 'your-client-id', authenticated_userid: 'user-123', scope: 'api.read api.write', revoked_at: null });
    expect(view.text).not.toContain(t.access_token);
    expect((await http(`${og.gw.adminUrl}/oauth2_tokens/${jti}`, { method: 'DELETE' })).status).toBe(204);
    expect((await api(t.access_token)).status).toBe(401);
    expect((await http(`${og.gw.adminUrl}/oauth2_tokens/nope`, { method: 'DELETE' })).status).toBe(404);
  });

  it('hide_credentials keeps the token from the upstream; a route without the plugin stays public', async () => {
    const t = await userFlow(confidential.client_id, oauth.ClientSecretPost(confidential.client_secret!));
    const hidden = await api(t.access_token, '/hidden/x');
    expect(hidden.status).toBe(200);
    expect(hidden.json<Echo>().headers.authorization).toBeUndefined();
    expect(hidden.json<Echo>().headers['x-user-id']).toBe('user-123');
    const open = await http(`${og.issuer}/public/x`, { headers: { 'x-user-id': 'forged' } });
    expect([open.status, open.json<Echo>().headers['x-user-id']]).toEqual([200, undefined]);
  });

  it('its tokens are accepted on a route with the jwt plugin too (SPEC §5), until revoked', async () => {
    const t = await userFlow(confidential.client_id, oauth.ClientSecretPost(confidential.client_secret!));
    const res = await api(t.access_token, '/jwt/x');
    expect(res.status).toBe(200);
    expect(res.json<Echo>().headers).toMatchObject({ 'x-user-id': 'user-123', 'x-authenticated-userid': 'user-123', 'x-client-id': 'your-client-id', 'x-authenticated-scope': 'api.read api.write' });
    await oauth.revocationRequest(as, { client_id: confidential.client_id }, oauth.ClientSecretPost(confidential.client_secret!), t.access_token, INSECURE);
    const refused = await api(t.access_token, '/jwt/x');
    expect([refused.status, refused.headers['www-authenticate']]).toEqual([401, 'Bearer error="invalid_token", error_description="The access token has been revoked"']);
  });

  it('refuses a request without a token, and a bearer token it did not issue', async () => {
    const none = await http(`${og.issuer}/api/x`);
    expect([none.status, none.headers['www-authenticate']]).toEqual([401, 'Bearer']);
    const foreign = await http(`${og.issuer}/api/x`, { headers: bearer('eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl') });
    expect(foreign.status).toBe(401);
    expect(foreign.headers['www-authenticate']).toMatch(/error="invalid_token"/);
  });

  it('serves the endpoints only with their methods, and audits them through the global chain', async () => {
    const wrong = await http(`${og.issuer}/oauth2/token`);
    expect([wrong.status, wrong.headers.allow, wrong.json().error]).toEqual([405, 'POST', 'invalid_request']);
    expect(wrong.headers['x-request-id']).toBeTruthy();
    const ok = await http(`${og.issuer}/oauth2/token`, { form: { grant_type: 'client_credentials', client_id: confidential.client_id, client_secret: confidential.client_secret! } });
    const id = ok.headers['x-request-id'];
    const line = await waitFor(() => (existsSync(auditFile) ? readFileSync(auditFile, 'utf8').split('\n').find((l) => l.includes(String(id))) : undefined), 'the audit record of /oauth2/token');
    // The authenticated client is the record's identity (SPEC §8 client_id, consumer, auth_method).
    expect(JSON.parse(line)).toMatchObject({ path: '/oauth2/token', method: 'POST', status_code: 200, route: null, client_id: confidential.client_id, consumer: 'admin', auth_method: 'oauth2', user_id: null });
    expect(line).not.toContain(confidential.client_secret!);
    const basic = `Basic ${Buffer.from(`${confidential.client_id}:${confidential.client_secret!}`).toString('base64')}`;
    const introspected = await http(`${og.issuer}/oauth2/introspect`, { headers: { authorization: basic }, form: { token: ok.json<{ access_token: string }>().access_token } });
    const id3 = String(introspected.headers['x-request-id']);
    const line3 = await waitFor(() => readFileSync(auditFile, 'utf8').split('\n').find((l) => l.includes(id3)), 'the audit record of /oauth2/introspect');
    expect(JSON.parse(line3)).toMatchObject({ path: '/oauth2/introspect', status_code: 200, client_id: confidential.client_id, consumer: 'admin', auth_method: 'oauth2' });
    const wrongSecret = await http(`${og.issuer}/oauth2/token`, { form: { grant_type: 'client_credentials', client_id: confidential.client_id, client_secret: 'not-the-secret' } });
    const id4 = String(wrongSecret.headers['x-request-id']);
    const line4 = await waitFor(() => readFileSync(auditFile, 'utf8').split('\n').find((l) => l.includes(id4)), 'the audit record of a refused client');
    expect(JSON.parse(line4)).toMatchObject({ status_code: 401, client_id: null, consumer: null, auth_method: null });
    const refused = await http(`${og.issuer}/oauth2/token`, { form: { grant_type: 'authorization_code', code: 'nope', client_id: confidential.client_id, client_secret: confidential.client_secret! } });
    const id2 = String(refused.headers['x-request-id']);
    const line2 = await waitFor(() => readFileSync(auditFile, 'utf8').split('\n').find((l) => l.includes(id2)), 'the audit record of a refused token request');
    expect(JSON.parse(line2)).toMatchObject({ status_code: 400, error: 'invalid_grant: unknown authorization code' });
  });

  it('rotates signing keys without invalidating live tokens', async () => {
    const before = await userFlow(confidential.client_id, oauth.ClientSecretPost(confidential.client_secret!));
    og.gw.writeConfig(build([key2, key1])(og.issuer));
    await waitFor(async () => (await http(`${og.issuer}/.well-known/jwks.json`)).json<{ keys: unknown[] }>().keys.length === 2, 'the reloaded JWKS');
    const rotated = await discover(og.issuer);
    const after = await codeFlow(rotated, { clientId: confidential.client_id, auth: oauth.ClientSecretPost(confidential.client_secret!), provisionKey: PROVISION, user: 'user-456' });
    const header = JSON.parse(Buffer.from(after.access_token.split('.')[0]!, 'base64url').toString()) as { kid: string; typ: string };
    expect(header).toMatchObject({ kid: 'k2', typ: 'at+jwt' });
    for (const t of [before, after]) {
      expect((await api(t.access_token)).status).toBe(200);
      await oauth.validateJwtAccessToken(rotated, new Request(`${og.issuer}/api`, { headers: bearer(t.access_token) }), og.issuer, INSECURE);
    }
  });
});
