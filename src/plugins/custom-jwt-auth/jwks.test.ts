import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { jwksDispatcher, RemoteKeySet } from './jwks.js';
import { startKeycloak, type FakeKeycloak } from '../../../test/helpers/keycloak.js';

describe('RemoteKeySet against a real JWKS endpoint', () => {
  let kc: FakeKeycloak;
  beforeAll(async () => {
    kc = await startKeycloak('keys');
  });
  afterAll(() => kc?.close());

  const keySet = (ttlMs: number) =>
    new RemoteKeySet({ jwksUri: kc.certsUrl, discoveryUrl: null, ttlMs, algorithms: new Set(['RS256']), dispatcher: jwksDispatcher(true), logger: pino({ level: 'silent' }) });

  it('a refresh that brings the same keys keeps them, so tokens verified with them stay cached', async () => {
    const keys = keySet(3_600_000);
    const kid = kc.currentKid();
    const key = await keys.keyFor(kid, 'RS256');
    expect(await keys.refresh()).toBe(true);
    expect(keys.stillHas(kid, key)).toBe(true);
    expect(await keys.keyFor(kid, 'RS256')).toBe(key);
    kc.rotate({ replace: true }); // the old key is withdrawn: what it verified must go
    expect(await keys.refresh()).toBe(true);
    expect(keys.stillHas(kid, key)).toBe(false);
  });

  it('cache_ttl 0 refetches at most once a second, not once per request', async () => {
    const keys = keySet(0);
    const kid = kc.currentKid();
    const before = kc.fetches.certs;
    const started = Date.now();
    for (let i = 0; i < 50; i++) {
      await keys.keyFor(kid, 'RS256');
      await new Promise((r) => setTimeout(r, 5));
    }
    // 50 lookups: the first fetch, then at most one a second (once per lookup before the floor)
    expect(kc.fetches.certs - before).toBeLessThanOrEqual(2 + Math.floor((Date.now() - started) / 1000));
  });
});
