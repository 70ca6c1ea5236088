import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { request } from 'undici';
import { SignJWT } from 'jose';
import { startGateway, type GatewayProcess } from '../../../test/helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../../../test/helpers/upstream.js';
import { bearer, hs256, hs256WithPublicKey, rsaPair, seedPayload, seedToken, sign, unsignedToken, type RsaPair } from '../../../test/helpers/jwt.js';

interface Echo {
  headers: Record<string, string>;
  url: string;
}

async function call(url: string, headers: Record<string, string> = {}, method = 'GET') {
  const res = await request(url, { method, headers });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) as Echo & { message: string; request_id: string } };
}

describe('jwt plugin through a real gateway', () => {
  let up: TestUpstream;
  let gw: GatewayProcess;
  let seedKey: RsaPair;
  let other: RsaPair;
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const hsSecret = 'a-shared-secret-of-decent-length-0123456789';

  beforeAll(async () => {
    seedKey = rsaPair(4096); // as the seed: openssl genrsa 4096
    other = rsaPair(2048);
    up = await startUpstream();
    const route = (name: string, plugins: unknown[] = []) => ({ name, paths: [`/${name}`], plugins });
    gw = await startGateway({
      services: [
        {
          name: 'echo',
          url: up.url,
          routes: [
            route('api', [{ name: 'jwt', config: { audience: 'ai-platform' } }]),
            route('public'),
            route('query', [{ name: 'jwt', config: { uri_param_names: ['jwt'] } }]),
            route('cookie', [{ name: 'jwt', config: { cookie_names: ['session'] } }]),
            route('strict', [{ name: 'jwt', config: { issuers: ['admin-key'], claims_to_verify: ['exp', 'nbf'], maximum_expiration: 7200, clock_skew: 5 } }]),
            route('b64', [{ name: 'jwt', config: { secret_is_base64: true } }]),
            route('preflight', [{ name: 'jwt', config: { run_on_preflight: false } }]),
            route('preflight-acl', [{ name: 'jwt', config: { run_on_preflight: false } }, { name: 'access-control', config: { required_scopes: ['api.read'] } }]),
          ],
        },
      ],
      consumers: [
        { username: 'admin', jwt_secrets: [{ key: 'admin-key', algorithm: 'RS256', rsa_public_key: seedKey.publicPem }] },
        {
          username: 'machines',
          custom_id: 'm-1',
          jwt_secrets: [
            { key: 'hs-key', algorithm: 'HS256', secret: hsSecret },
            { key: 'b64-key', algorithm: 'HS256', secret: Buffer.from(hsSecret).toString('base64') },
            { key: 'ec-key', algorithm: 'ES256', rsa_public_key: ec.publicKey.export({ type: 'spki', format: 'pem' }).toString() },
          ],
        },
      ],
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  it('accepts the seed snippet token as is and sends the identity upstream', async () => {
    const token = await seedToken(seedKey, 'admin-key', 'user-id', { preferred_username: 'ada', azp: 'cli', roles: ['admin'] });
    const res = await call(`${gw.url}/api/chat`, bearer(token));
    expect(res.status).toBe(200);
    const h = res.json().headers;
    expect(h['x-user-id']).toBe('user-id');
    expect(h['x-credential-identifier']).toBe('admin-key');
    expect(h['x-consumer-username']).toBe('admin');
    expect(h['x-consumer-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(h['x-authenticated-scope']).toBe('api.read api.write');
    expect(h['x-username']).toBe('ada');
    expect(h['x-client-id']).toBe('cli');
    expect(h['x-roles']).toBe('["admin"]');
    expect(h.authorization).toBe(`Bearer ${token}`);
    // the same token again is served from the verified-token cache with the same identity
    const again = await call(`${gw.url}/api/chat`, bearer(token));
    expect(again.status).toBe(200);
    expect(again.json().headers['x-user-id']).toBe('user-id');
  });

  it('sends non-ASCII identity values as their UTF-8 bytes (as Kong does) and refuses a control character with 401', async () => {
    const token = await seedToken(seedKey, 'admin-key', 'user-ł', { preferred_username: 'Łukasz', roles: ['管理员', 'über-admin'] });
    const res = await call(`${gw.url}/api/chat`, bearer(token));
    expect(res.status).toBe(200);
    const h = res.json().headers;
    const utf8 = (v: string | undefined) => Buffer.from(v ?? '', 'latin1').toString('utf8');
    expect(utf8(h['x-username'])).toBe('Łukasz');
    expect(utf8(h['x-user-id'])).toBe('user-ł');
    expect(JSON.parse(utf8(h['x-roles']))).toEqual(['管理员', 'über-admin']);
    const crlf = await call(`${gw.url}/api/chat`, bearer(await seedToken(seedKey, 'admin-key', 'a\r\nx-evil: 1')));
    expect(crlf.status).toBe(401);
    expect(crlf.json().message).toContain('control characters');
    // a token that was sent and refused: RFC 6750's invalid_token, as every other refused token
    expect(crlf.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token", error_description="The credential's identity cannot be passed upstream/);
    // a tab is allowed in a header value (RFC 9110 §5.5), so it is passed on
    const tab = await call(`${gw.url}/api/chat`, bearer(await seedToken(seedKey, 'admin-key', 'tab-user', { preferred_username: 'Ada\tLovelace' })));
    expect(tab.status).toBe(200);
    expect(tab.json().headers['x-username']).toBe('Ada\tLovelace');
  });

  it('answers 401 with WWW-Authenticate: Bearer and no error code when no token is sent', async () => {
    const res = await call(`${gw.url}/api`);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(res.headers['content-type']).toContain('application/json');
    expect(res.json().message).toBe('Unauthorized');
    expect(res.json().request_id).toBeTruthy();
    // another scheme is not a JWT credential either
    expect((await call(`${gw.url}/api`, { authorization: 'Basic dXNlcjpwYXNz' })).headers['www-authenticate']).toBe('Bearer');
  });

  it('a Bearer header that holds no one token (two joined, a space inside) is a token sent and refused: invalid_token', async () => {
    for (const authorization of ['Bearer abc def', ['Bearer one', 'Bearer two']]) {
      const res = await call(`${gw.url}/api`, { authorization } as Record<string, string>);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token", error_description="Bad token; the Authorization header must hold one Bearer token"');
    }
  });

  describe('refuses every attack with 401 invalid_token', () => {
    const attacks: Array<[string, () => Promise<string> | string, string]> = [
      ['alg: none', () => unsignedToken(seedPayload('admin-key', 'u')), 'Invalid algorithm'],
      ['HS256 signed with the RSA public key as secret', () => hs256WithPublicKey(seedPayload('admin-key', 'u'), seedKey.publicPem), 'Invalid algorithm'],
      ['expired', () => seedToken(seedKey, 'admin-key', 'u', { exp: Math.floor(Date.now() / 1000) - 10 }), 'token expired'],
      ['nbf in the future', () => seedToken(seedKey, 'admin-key', 'u', { nbf: Math.floor(Date.now() / 1000) + 600 }), 'token not valid yet'],
      ['bad signature (another key)', () => seedToken(other, 'admin-key', 'u'), 'Invalid signature'],
      ['bad signature (tampered claims)', async () => tamper(await seedToken(seedKey, 'admin-key', 'u')), 'Invalid signature'],
      ['unknown issuer/key', () => seedToken(seedKey, 'someone-else', 'u'), "No credentials found for given 'iss'"],
      ['no iss at all', () => sign({ sub: 'u', aud: 'ai-platform', exp: Math.floor(Date.now() / 1000) + 60 }, seedKey.privateKey), "No mandatory 'iss' in claims"],
      ['wrong audience', () => seedToken(seedKey, 'admin-key', 'u', { aud: 'another-api' }), 'Invalid audience'],
      ['malformed (not a JWT)', () => 'not-a-jwt', 'Bad token; not a JWT'],
      ['malformed (bad JSON)', () => 'eyJhbGciOi.eyJzdWIi.c2ln', 'Bad token; invalid JSON in header'],
      ['RS256 token for an ES256 credential', () => sign(seedPayload('ec-key', 'u'), seedKey.privateKey), 'Invalid algorithm'],
      // RFC 7515 §4.1.11: no extension is understood, so one marked critical is refused; RFC 7797's b64 has no place in a JWT.
      ['a critical header extension', () => new SignJWT(seedPayload('admin-key', 'u')).setProtectedHeader({ alg: 'RS256', crit: ['urn:x'], 'urn:x': 1 }).sign(seedKey.privateKey, { crit: { 'urn:x': true } }), 'Bad token; unsupported critical header parameter'],
      ['a b64 header', () => new SignJWT(seedPayload('admin-key', 'u')).setProtectedHeader({ alg: 'RS256', b64: false }).sign(seedKey.privateKey), 'Bad token; unsupported critical header parameter'],
    ];
    for (const [name, make, message] of attacks) {
      it(name, async () => {
        const res = await call(`${gw.url}/api`, bearer(await make()));
        expect(res.status).toBe(401);
        expect(res.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
        expect(res.json().message).toBe(message);
        expect(up.seen.some((s) => s.headers['x-request-id'] === res.json().request_id)).toBe(false);
      });
    }

    it('oversized header: 431 before any plugin runs', async () => {
      const res = await call(`${gw.url}/api`, { authorization: `Bearer ${'a'.repeat(20_000)}.b.c` });
      expect(res.status).toBe(431);
    });

    it('token in the query is ignored by default (no credential), accepted where uri_param_names allows', async () => {
      const token = await seedToken(seedKey);
      const ignored = await call(`${gw.url}/api?jwt=${token}`);
      expect(ignored.status).toBe(401);
      expect(ignored.headers['www-authenticate']).toBe('Bearer');
      const allowed = await call(`${gw.url}/query?jwt=${token}`);
      expect(allowed.status).toBe(200);
      expect(allowed.json().headers['x-user-id']).toBe('user-id');
    });
  });

  it('reads cookies when configured and refuses two different tokens', async () => {
    const token = await seedToken(seedKey, 'admin-key', 'cookie-user');
    const ok = await call(`${gw.url}/cookie`, { cookie: `theme=dark; session=${token}` });
    expect(ok.status).toBe(200);
    expect(ok.json().headers['x-user-id']).toBe('cookie-user');
    const twice = await call(`${gw.url}/cookie`, { cookie: `session=${token}`, ...bearer(await seedToken(seedKey, 'admin-key', 'other')) });
    expect(twice.status).toBe(401);
    expect(twice.json().message).toBe('Multiple tokens provided');
  });

  it('HS256 and ES256 credentials, secret_is_base64', async () => {
    const payload = { iss: 'hs-key', sub: 'svc', exp: Math.floor(Date.now() / 1000) + 60 };
    expect((await call(`${gw.url}/query`, bearer(hs256(payload, hsSecret)))).status).toBe(200);
    expect((await call(`${gw.url}/query`, bearer(hs256(payload, 'wrong-secret')))).status).toBe(401);
    const b64 = { ...payload, iss: 'b64-key' };
    expect((await call(`${gw.url}/b64`, bearer(hs256(b64, hsSecret)))).status).toBe(200);
    expect((await call(`${gw.url}/query`, bearer(hs256(b64, hsSecret)))).status).toBe(401);
    const es = await call(`${gw.url}/query`, bearer(await sign(seedPayload('ec-key', 'edge'), ec.privateKey, { alg: 'ES256' })));
    expect(es.status).toBe(200);
    expect(es.json().headers['x-consumer-username']).toBe('machines');
    // as Kong: the consumer's custom_id goes upstream when it has one, and only then
    expect(es.json().headers['x-consumer-custom-id']).toBe('m-1');
    const admin = await call(`${gw.url}/api`, { ...bearer(await seedToken(seedKey)), 'x-consumer-custom-id': 'spoofed' });
    expect(admin.json().headers['x-consumer-custom-id']).toBeUndefined();
  });

  it('issuers, claims_to_verify nbf, maximum_expiration and clock_skew', async () => {
    const t = Math.floor(Date.now() / 1000);
    expect((await call(`${gw.url}/strict`, bearer(await seedToken(seedKey)))).status).toBe(200);
    const noNbf = await call(`${gw.url}/strict`, bearer(await sign({ iss: 'admin-key', sub: 'u', exp: t + 60 }, seedKey.privateKey)));
    expect(noNbf.json().message).toBe("'nbf' must be a number");
    const tooLong = await call(`${gw.url}/strict`, bearer(await seedToken(seedKey, 'admin-key', 'u', { exp: t + 3 * 3600 })));
    expect(tooLong.json().message).toBe('exceeds maximum allowed expiration');
    // within the 5 s skew: accepted; beyond it: refused
    expect((await call(`${gw.url}/strict`, bearer(await seedToken(seedKey, 'admin-key', 'u', { nbf: t + 2 })))).status).toBe(200);
    expect((await call(`${gw.url}/strict`, bearer(await seedToken(seedKey, 'admin-key', 'u', { exp: t - 2 })))).status).toBe(200);
    expect((await call(`${gw.url}/strict`, bearer(await seedToken(seedKey, 'admin-key', 'u', { exp: t - 30 })))).status).toBe(401);
  });

  it('a cached token stops working when it expires', async () => {
    const token = await seedToken(seedKey, 'admin-key', 'short', { exp: Math.floor(Date.now() / 1000) + 2 });
    expect((await call(`${gw.url}/api`, bearer(token))).status).toBe(200);
    await new Promise((r) => setTimeout(r, 3000));
    const late = await call(`${gw.url}/api`, bearer(token));
    expect(late.status).toBe(401);
    expect(late.json().message).toBe('token expired');
  });

  it('run_on_preflight: false lets OPTIONS through without a token', async () => {
    expect((await call(`${gw.url}/preflight`, {}, 'OPTIONS')).status).toBe(200);
    expect((await call(`${gw.url}/preflight`, {}, 'GET')).status).toBe(401);
    expect((await call(`${gw.url}/api`, {}, 'OPTIONS')).status).toBe(401);
    // access-control on the same route lets the preflight through too, and still guards the rest
    expect((await call(`${gw.url}/preflight-acl`, {}, 'OPTIONS')).status).toBe(200);
    expect((await call(`${gw.url}/preflight-acl`, {}, 'GET')).status).toBe(401);
    const noScope = await call(`${gw.url}/preflight-acl`, bearer(await seedToken(seedKey, 'admin-key', 'u', { scopes: ['other'] })), 'GET');
    expect(noScope.status).toBe(403);
  });

  it('strips client-sent identity headers on authenticated and public routes', async () => {
    const spoofed = {
      'x-user-id': 'root',
      'x-client-id': 'evil',
      'x-username': 'root',
      'x-enterprise-id': 'acme',
      'x-roles': '["admin"]',
      'x-workspace-id': 'ws-victim',
      'x-consumer-id': 'c',
      'x-consumer-username': 'admin',
      'x-credential-identifier': 'admin-key',
      'x-authenticated-userid': 'root',
      'x-authenticated-scope': 'admin',
    };
    const pub = (await call(`${gw.url}/public`, spoofed)).json().headers;
    for (const name of Object.keys(spoofed)) expect(pub[name], name).toBeUndefined();
    const token = await seedToken(seedKey, 'admin-key', 'real-user', { scopes: ['api.read'] });
    const authed = (await call(`${gw.url}/api`, { ...spoofed, ...bearer(token) })).json().headers;
    expect(authed['x-user-id']).toBe('real-user');
    expect(authed['x-authenticated-scope']).toBe('api.read');
    expect(authed['x-roles']).toBe('[]');
    for (const name of ['x-client-id', 'x-username', 'x-enterprise-id', 'x-workspace-id', 'x-authenticated-userid']) expect(authed[name], name).toBeUndefined();
  });
});

function tamper(token: string): string {
  const [h, p, s] = token.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
  claims.sub = 'admin';
  return `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
}
