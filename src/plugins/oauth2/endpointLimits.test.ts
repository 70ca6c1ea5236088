import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, keyFile, startOAuthGateway, type OAuthGateway } from '../../../test/helpers/oauth.js';
import { startUpstream, type TestUpstream } from '../../../test/helpers/upstream.js';

/**
 * The OAuth endpoints are public, but not unlimited: global rate-limiting instances (here the
 * seed's per-IP layer, shrunk to 3/minute) also count /oauth2/token and the metadata, so a
 * client cannot stuff credentials at the token endpoint.
 */
describe('oauth2 endpoints and global rate limits', () => {
  let up: TestUpstream;
  let og: OAuthGateway;
  beforeAll(async () => {
    up = await startUpstream();
    og = await startOAuthGateway((issuer) => ({
      gateway: { issuer, signing_keys: [{ kid: 'k1', private_key_file: keyFile() }] },
      plugins: [{ name: 'rate-limiting', instance_name: 'per-ip', config: { minute: 3, limit_by: 'ip' } }],
      services: [{ name: 'echo', url: up.url, routes: [{ name: 'api', paths: ['/api'], plugins: [{ name: 'oauth2', config: { provision_key: 'provision-key-0123456789' } }] }] }],
    }));
  });
  afterAll(async () => {
    await og?.gw.stop();
    await up?.close();
  });

  it('counts the endpoints against the per-IP limit and refuses the 4th call with 429', async () => {
    const metadata = `${og.issuer}/.well-known/oauth-authorization-server`;
    const first = await http(metadata);
    expect(first.status).toBe(200);
    expect(first.headers['x-ratelimit-limit-minute']).toBe('3');
    expect(first.headers['x-ratelimit-remaining-minute']).toBe('2');
    const token = await http(`${og.issuer}/oauth2/token`, { method: 'POST', form: { grant_type: 'client_credentials', client_id: 'nobody', client_secret: 'wrong' } });
    expect([400, 401]).toContain(token.status); // refused by the AS, but counted
    expect((await http(metadata)).status).toBe(200);
    const refused = await http(`${og.issuer}/oauth2/token`, { method: 'POST', form: { grant_type: 'client_credentials', client_id: 'nobody', client_secret: 'again' } });
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBeDefined();
    expect(refused.json<{ message: string }>().message).toBe('API rate limit exceeded');
  });
});
