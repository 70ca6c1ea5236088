import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startGateway, type GatewayProcess } from '../../test/helpers/gateway.js';

/** An import a hostile page would send: a consumer with an HS256 secret the page knows. */
const IMPORT = 'consumers:\n  - username: attacker\n    jwt_secrets:\n      - key: evil\n        algorithm: HS256\n        secret: attacker-known-secret-0123456789abcdef\n';

async function call(gw: GatewayProcess, method: string, path: string, headers: Record<string, string>, body?: string) {
  const res = await request(`${gw.adminUrl}${path}`, { method: method as 'GET', headers, body });
  const text = await res.body.text();
  return { status: res.statusCode, body: text === '' ? {} : (JSON.parse(text) as { message?: string }) };
}

describe('Admin API without admin_token: browsers on other sites are refused', () => {
  let gw: GatewayProcess;
  beforeAll(async () => {
    gw = await startGateway({});
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('a cross-site text/plain or form POST (no CORS preflight) gets 403 and changes nothing', async () => {
    const csrf = await call(gw, 'POST', '/config', { origin: 'https://evil.example', 'content-type': 'text/plain' }, IMPORT);
    expect(csrf.status).toBe(403);
    expect(csrf.body.message).toMatch(/another origin.*admin_token/);
    const form = await call(gw, 'POST', '/consumers', { 'sec-fetch-site': 'cross-site', 'content-type': 'application/x-www-form-urlencoded' }, 'username=pwned');
    expect(form.status).toBe(403);
    const nullOrigin = await call(gw, 'POST', '/consumers', { origin: 'null', 'content-type': 'application/x-www-form-urlencoded' }, 'username=pwned2');
    expect(nullOrigin.status).toBe(403);
    const list = await call(gw, 'GET', '/consumers', {});
    expect(JSON.stringify(list.body)).not.toMatch(/attacker|pwned/);
  });

  it('a rebound DNS name (Host not loopback) cannot read the config export', async () => {
    const port = new URL(gw.adminUrl).port;
    const rebound = await call(gw, 'GET', '/config', { host: `evil.example:${port}`, accept: 'application/json' });
    expect(rebound.status).toBe(403);
    expect(rebound.body.message).toMatch(/loopback host names \(Host: evil\.example/);
  });

  it('curl, scripts and same-origin calls work as before', async () => {
    const port = new URL(gw.adminUrl).port;
    expect((await call(gw, 'GET', '/', {})).status).toBe(200);
    expect((await call(gw, 'GET', '/', { host: `localhost:${port}` })).status).toBe(200);
    expect((await call(gw, 'GET', '/', { host: `[::1]:${port}` })).status).toBe(200);
    expect((await call(gw, 'POST', '/consumers', { origin: `http://127.0.0.1:${port}`, 'content-type': 'application/json' }, '{"username":"same-origin"}')).status).toBe(201);
    expect((await call(gw, 'GET', '/consumers/same-origin', { 'sec-fetch-site': 'same-origin' })).status).toBe(200);
  });
});

describe('Admin API with admin_token: the token decides', () => {
  it('a valid token from another origin is served; without it, 401', async () => {
    const gw = await startGateway({ gateway: { admin_token: 'browser-ui-token' } });
    try {
      expect((await call(gw, 'GET', '/', { origin: 'https://admin-ui.example' })).status).toBe(401);
      expect((await call(gw, 'GET', '/', { origin: 'https://admin-ui.example', authorization: 'Bearer browser-ui-token' })).status).toBe(200);
    } finally {
      await gw.stop();
    }
  });
});
