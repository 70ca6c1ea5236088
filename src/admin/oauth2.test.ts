import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as oauth from 'oauth4webapi';
import { startUpstream, type TestUpstream } from '../../test/helpers/upstream.js';
import { freshDatabase } from '../../test/helpers/postgres.js';
import { bearer, codeFlow, discover, http, keyFile, REDIRECT, startOAuthGateway, type HttpAnswer, type OAuthGateway } from '../../test/helpers/oauth.js';

/**
 * Admin API `/consumers/{c}/oauth2` and the OAuth clients it registers, on both store
 * backends: the seed's form body and JSON, generated ids and secrets, the secret shown once
 * and stored hashed, validation (400 fields), 404/409, and DELETE revoking the client's tokens.
 */

type Body = Record<string, unknown> & { fields?: Record<string, string>; data?: Array<Record<string, unknown>> };

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`Admin API /consumers/{c}/oauth2 (${backend})`, () => {
    let up: TestUpstream;
    let og: OAuthGateway;
    const admin = (method: string, path: string, body?: unknown, form?: string): Promise<HttpAnswer> =>
      http(`${og.gw.adminUrl}${path}`, {
        method,
        body: form ?? (body === undefined ? undefined : JSON.stringify(body)),
        headers: form !== undefined ? { 'content-type': 'application/x-www-form-urlencoded' } : body === undefined ? {} : { 'content-type': 'application/json' },
      });

    beforeAll(async () => {
      up = await startUpstream();
      const store = backend === 'postgres' ? await freshDatabase('tg_admin_oauth') : undefined;
      og = await startOAuthGateway((issuer) => ({
        gateway: { issuer, signing_keys: [{ kid: 'k1', private_key_file: keyFile() }], ...(store ? { store } : {}) },
        plugins: [{ name: 'oauth2', config: { provision_key: 'provision-key-0123456789' } }],
        services: [{ name: 'echo', url: up.url, routes: [{ name: 'api', paths: ['/api'] }] }],
        consumers: [
          { username: 'admin' },
          { username: 'declared', oauth2_credentials: [{ name: 'From config', client_id: 'declared-app', client_secret: 'declared-secret', redirect_uris: [REDIRECT] }] },
        ],
      }));
    });
    afterAll(async () => {
      await og?.gw.stop();
      await up?.close();
    });

    it('registers the seed client (form, redirect_uris[]), shows the secret once and stores only its hash', async () => {
      const form = 'name=My%20Application&client_id=your-client-id&client_secret=your-client-secret&redirect_uris[]=https%3A%2F%2Fyour-app.com%2Fcallback&redirect_uris[]=https%3A%2F%2Fyour-app.com%2Fother';
      const created = await admin('POST', '/consumers/admin/oauth2', undefined, form);
      expect(created.status).toBe(201);
      expect(created.json<Body>()).toMatchObject({
        name: 'My Application',
        client_id: 'your-client-id',
        client_secret: 'your-client-secret',
        client_type: 'confidential',
        redirect_uris: [REDIRECT, 'https://your-app.com/other'],
        consumer: { id: expect.any(String) },
      });
      const id = String(created.json<Body>().id);
      for (const path of [`/consumers/admin/oauth2/${id}`, '/consumers/admin/oauth2/your-client-id', '/consumers/admin/oauth2']) {
        const res = await admin('GET', path);
        expect(res.status).toBe(200);
        expect(res.text).toContain('your-client-id');
        expect(res.text).not.toContain('your-client-secret');
      }
      const exported = await admin('GET', '/config');
      expect(exported.text).toContain('scrypt$');
      expect(exported.text).not.toContain('your-client-secret');
    });

    it('generates a client_id and a secret, registers public clients without one, from JSON', async () => {
      const gen = await admin('POST', '/consumers/admin/oauth2', { name: 'Generated', redirect_uris: [REDIRECT] });
      expect(gen.status).toBe(201);
      expect(gen.json<Body>()).toMatchObject({ client_id: expect.stringMatching(/^[\w-]{20,}$/), client_secret: expect.stringMatching(/^[\w-]{40,}$/) });
      const pub = await admin('POST', '/consumers/admin/oauth2', { name: 'SPA', client_type: 'public', redirect_uris: REDIRECT });
      expect(pub.status).toBe(201);
      expect(pub.json<Body>().client_secret).toBeUndefined();
      expect(pub.json<Body>().redirect_uris).toEqual([REDIRECT]);
    });

    it('refuses bad input with 400 fields, unknown consumers with 404, a taken client_id with 409', async () => {
      const cases: Array<[unknown, string, RegExp]> = [
        [{ name: 'x' }, 'redirect_uris', /expected array|at least one/],
        [{ name: 'x', redirect_uris: ['not a url'] }, 'redirect_uris[0]', /absolute URL/],
        [{ name: 'x', redirect_uris: ['https://a.example/cb#frag'] }, 'redirect_uris[0]', /fragment/],
        [{ name: 'x', redirect_uris: [REDIRECT, 'javascript:alert(1)'] }, 'redirect_uris[1]', /javascript:/],
        [{ name: 'x', redirect_uris: [REDIRECT], client_type: 'public', client_secret: 'nope' }, 'client_secret', /public client has no secret/],
        [{ name: 'x', redirect_uris: [REDIRECT], scopes: ['a'] }, '@entity', /unknown field: scopes/],
        [{ redirect_uris: [REDIRECT] }, 'name', /./],
      ];
      for (const [body, field, message] of cases) {
        const res = await admin('POST', '/consumers/admin/oauth2', body);
        expect(res.status).toBe(400);
        expect(res.json<Body>().fields?.[field]).toMatch(message);
      }
      expect((await admin('POST', '/consumers/nobody/oauth2', { name: 'x', redirect_uris: [REDIRECT] })).status).toBe(404);
      const dup = await admin('POST', '/consumers/admin/oauth2', { name: 'again', client_id: 'your-client-id', client_secret: 'x', redirect_uris: [REDIRECT] });
      expect(dup.status).toBe(409);
      expect(dup.json<Body>().fields).toEqual({ client_id: expect.stringContaining('your-client-id') });
      expect((await admin('GET', '/consumers/declared/oauth2/your-client-id')).status).toBe(404);
    });

    it('DELETE revokes every token of the client at once; config-declared clients are read-only', async () => {
      const created = (await admin('POST', '/consumers/admin/oauth2', { name: 'Doomed', client_secret: 'doomed-secret', redirect_uris: [REDIRECT] })).json<Body>();
      const as = await discover(og.issuer);
      const t = await codeFlow(as, { clientId: String(created.client_id), auth: oauth.ClientSecretPost('doomed-secret'), provisionKey: 'provision-key-0123456789', user: 'u', scope: '' });
      expect((await http(`${og.issuer}/api/x`, { headers: bearer(t.access_token) })).status).toBe(200);
      expect((await admin('DELETE', `/consumers/admin/oauth2/${String(created.client_id)}`)).status).toBe(204);
      expect((await http(`${og.issuer}/api/x`, { headers: bearer(t.access_token) })).status).toBe(401);
      expect((await admin('GET', `/consumers/admin/oauth2/${String(created.id)}`)).status).toBe(404);
      const declared = await admin('DELETE', '/consumers/declared/oauth2/declared-app');
      expect(declared.status).toBe(409);
    });

    it('deleting a consumer revokes the tokens of its OAuth clients at once', async () => {
      expect((await admin('POST', '/consumers', { username: 'leaving' })).status).toBe(201);
      const created = (await admin('POST', '/consumers/leaving/oauth2', { name: 'Leaving', client_secret: 'leaving-secret', redirect_uris: [REDIRECT] })).json<Body>();
      const as = await discover(og.issuer);
      const t = await codeFlow(as, { clientId: String(created.client_id), auth: oauth.ClientSecretPost('leaving-secret'), provisionKey: 'provision-key-0123456789', user: 'u', scope: '' });
      expect((await http(`${og.issuer}/api/x`, { headers: bearer(t.access_token) })).status).toBe(200);
      expect((await admin('DELETE', '/consumers/leaving')).status).toBe(204);
      expect((await http(`${og.issuer}/api/x`, { headers: bearer(t.access_token) })).status).toBe(401);
    });
  });
}
