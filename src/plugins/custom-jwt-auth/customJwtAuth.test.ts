import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startGateway, type GatewayProcess } from '../../../test/helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../../../test/helpers/upstream.js';
import { startKeycloak, type FakeKeycloak } from '../../../test/helpers/keycloak.js';
import { bearer, hs256, rsaPair, sign } from '../../../test/helpers/jwt.js';
import { generateSelfSigned } from '../../server/tls.js';

async function call(url: string, headers: Record<string, string> = {}) {
  const res = await request(url, { headers });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body: JSON.parse(text) as { headers: Record<string, string>; message: string } };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('custom-jwt-auth against a Keycloak-shaped JWKS server', () => {
  let up: TestUpstream;
  let kc: FakeKeycloak;
  let neverUp: FakeKeycloak;
  let tlsKc: FakeKeycloak;
  let odd: FakeKeycloak;
  let gw: GatewayProcess;

  beforeAll(async () => {
    up = await startUpstream();
    kc = await startKeycloak('kong');
    neverUp = await startKeycloak('other');
    neverUp.setDown(true);
    tlsKc = await startKeycloak('secure', await generateSelfSigned());
    odd = await startKeycloak('odd');
    odd.setMisbehaviour('huge'); // from the start: the gateway's first fetch meets it
    const plugin = (config: Record<string, unknown>) => [{ name: 'custom-jwt-auth', config }];
    // the seed's config, verbatim
    const seed = { keycloak_base_url: kc.baseUrl, keycloak_realm: 'kong', expected_issuer: kc.issuer, expected_audience: 'account', cache_ttl: 3600, ssl_verify: false };
    gw = await startGateway({
      services: [
        {
          name: 'echo',
          url: up.url,
          routes: [
            { name: 'kc', paths: ['/kc'], plugins: plugin(seed) },
            // The usual migrated setup: Kong's jwt (consumer keys) beside Keycloak on one route.
            { name: 'both', paths: ['/both'], plugins: [{ name: 'jwt' }, ...plugin(seed)] },
            { name: 'rot', paths: ['/rot'], plugins: plugin({ jwks_uri: kc.certsUrl, expected_issuer: kc.issuer }) },
            { name: 'ttl', paths: ['/ttl'], plugins: plugin({ ...seed, cache_ttl: 1 }) },
            { name: 'disc', paths: ['/disc'], plugins: plugin({ discovery_url: kc.discoveryUrl, clock_skew: 30 }) },
            { name: 'down', paths: ['/down'], plugins: plugin({ keycloak_base_url: neverUp.baseUrl, keycloak_realm: 'other' }) },
            { name: 'odd', paths: ['/odd'], plugins: plugin({ keycloak_base_url: odd.baseUrl, keycloak_realm: 'odd' }) },
            { name: 'tls-off', paths: ['/tls-off'], plugins: plugin({ keycloak_base_url: tlsKc.baseUrl, keycloak_realm: 'secure', ssl_verify: false }) },
            { name: 'tls-on', paths: ['/tls-on'], plugins: plugin({ keycloak_base_url: tlsKc.baseUrl, keycloak_realm: 'secure', ssl_verify: true }) },
          ],
        },
      ],
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await Promise.all([up?.close(), kc?.close(), neverUp?.close(), tlsKc?.close(), odd?.close()]);
  });

  it('verifies a Keycloak access token and maps its claims to the identity headers', async () => {
    const res = await call(`${gw.url}/kc`, bearer(await kc.token()));
    expect(res.status).toBe(200);
    const h = res.body.headers;
    expect(h['x-user-id']).toBe('f1d4c0de-0000-4000-8000-000000000001');
    expect(h['x-client-id']).toBe('web-app');
    expect(h['x-username']).toBe('alice');
    expect(JSON.parse(h['x-roles']!)).toEqual(['offline_access', 'ai-user', 'manage-account']);
    expect(h['x-authenticated-scope']).toBe('openid profile email');
  });

  it('checks signature, issuer, audience, expiry, nbf, algorithm and token type', async () => {
    const t = Math.floor(Date.now() / 1000);
    const stranger = rsaPair(2048);
    const cases: Array<[string, string, string]> = [
      ['forged with a published kid', await sign({ iss: kc.issuer, aud: 'account', sub: 'x', exp: t + 60 }, stranger.privateKey, { kid: kc.currentKid() }), 'Invalid signature'],
      ['other issuer', await kc.token({ iss: 'https://evil.example.com/realms/kong' }), 'Invalid issuer'],
      ['other audience', await kc.token({ aud: 'another-client' }), 'Invalid audience'],
      ['expired', await kc.token({ exp: t - 5 }), 'token expired'],
      ['nbf in the future', await kc.token({ nbf: t + 600 }), 'token not valid yet'],
      ['no exp', await kc.token({ exp: undefined }), "'exp' must be a number"],
      ['HS256', hs256({ iss: kc.issuer, aud: 'account', exp: t + 60 }, 'secret'), 'Invalid algorithm'],
      ['an ID token', await kc.token({ typ: 'ID' }), 'Not an access token'],
    ];
    for (const [name, token, message] of cases) {
      const res = await call(`${gw.url}/kc`, bearer(token));
      expect(res.status, name).toBe(401);
      expect(res.headers['www-authenticate'], name).toMatch(/^Bearer error="invalid_token"/);
      expect(res.body.message, name).toBe(message);
    }
  });

  it("beside jwt on one route, a refused Keycloak token is told custom-jwt-auth's reason, not jwt's 'no credentials'", async () => {
    const t = Math.floor(Date.now() / 1000);
    expect((await call(`${gw.url}/both`, bearer(await kc.token()))).status).toBe(200);
    for (const [token, message] of [
      [await kc.token({ exp: t - 5 }), 'token expired'],
      [await kc.token({ aud: 'another-client' }), 'Invalid audience'],
    ] as const) {
      const res = await call(`${gw.url}/both`, bearer(token));
      expect([res.status, res.body.message]).toEqual([401, message]);
    }
  });

  it('refetches once on an unknown kid (at most once per 30 s) and follows key rotation', async () => {
    expect((await call(`${gw.url}/rot`, bearer(await kc.token()))).status).toBe(200);
    const before = kc.fetches.certs;
    const oldKid = kc.currentKid();
    const oldToken = await kc.token({ sub: 'old' });
    expect((await call(`${gw.url}/rot`, bearer(oldToken))).status).toBe(200);

    kc.rotate({ replace: true }); // the IdP rotates: new key published, old one withdrawn
    const fresh = await call(`${gw.url}/rot`, bearer(await kc.token({ sub: 'new' })));
    expect(fresh.status).toBe(200);
    expect(fresh.body.headers['x-user-id']).toBe('new');
    expect(kc.fetches.certs).toBe(before + 1);

    // the withdrawn key no longer verifies, even for a token that was cached as valid
    const withdrawn = await call(`${gw.url}/rot`, bearer(oldToken));
    expect(withdrawn.status).toBe(401);
    expect(withdrawn.body.message).toBe('Unknown signing key');
    expect(oldKid).not.toBe(kc.currentKid());

    // another unknown kid within 30 s: refused without hammering the IdP
    const stray = await sign({ iss: kc.issuer, exp: Math.floor(Date.now() / 1000) + 60 }, rsaPair(2048).privateKey, { kid: 'never-published' });
    expect((await call(`${gw.url}/rot`, bearer(stray))).body.message).toBe('Unknown signing key');
    expect(kc.fetches.certs).toBe(before + 1);
  });

  it('finds keys and issuer through the discovery document', async () => {
    const res = await call(`${gw.url}/disc`, bearer(await kc.token({ aud: 'anything' })));
    expect(res.status).toBe(200);
    expect(kc.fetches.discovery).toBeGreaterThan(0);
    expect((await call(`${gw.url}/disc`, bearer(await kc.token({ iss: 'https://elsewhere' })))).status).toBe(401);
  });

  it('ssl_verify: false accepts a self-signed IdP certificate, true refuses it (503)', async () => {
    expect((await call(`${gw.url}/tls-off`, bearer(await tlsKc.token()))).status).toBe(200);
    const strict = await call(`${gw.url}/tls-on`, bearer(await tlsKc.token()));
    expect(strict.status).toBe(503);
    expect(strict.body.message).not.toMatch(/certificate|self-signed|127\.0\.0\.1/i);
  });

  it('a JWKS answer that trickles or is too large gets 503 in bounded time, and keys are fetched again once it behaves', { timeout: 40_000 }, async () => {
    const huge = await call(`${gw.url}/odd`, bearer(await odd.token({})));
    expect(huge.status).toBe(503); // 2 MiB without a Content-Length: refused, not buffered
    odd.setMisbehaviour('trickle');
    await sleep(2100); // the retry spacing after a failed fetch with no keys
    const started = Date.now();
    const trickled = await call(`${gw.url}/odd`, bearer(await odd.token({})));
    expect(trickled.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(20_000);
    odd.setMisbehaviour(null);
    await sleep(2100);
    const fine = await call(`${gw.url}/odd`, bearer(await odd.token({ sub: 'after-recovery' })));
    expect(fine.status).toBe(200);
    expect(fine.body.headers['x-user-id']).toBe('after-recovery');
  });

  it('keeps serving cached keys while the JWKS endpoint is down; 503 when it never had any', async () => {
    expect((await call(`${gw.url}/ttl`, bearer(await kc.token()))).status).toBe(200);
    kc.setDown(true);
    try {
      await sleep(1500); // past cache_ttl: the keys are stale, the endpoint is down
      for (let i = 0; i < 3; i++) {
        const res = await call(`${gw.url}/ttl`, bearer(await kc.token({ sub: `during-outage-${i}` })));
        expect(res.status).toBe(200);
        expect(res.body.headers['x-user-id']).toBe(`during-outage-${i}`);
      }
      const none = await call(`${gw.url}/down`, bearer(await neverUp.token({})));
      expect(none.status).toBe(503);
      expect(none.body.message).toBe('The identity provider is unavailable, try again later');
    } finally {
      kc.setDown(false);
    }
  });
});
