import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, type JWK } from 'jose';
import { runCli, startGateway, type GatewayProcess } from '../../test/helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../../test/helpers/upstream.js';

// Each case runs the CLI as a process (tsx start-up): generous timeouts for a loaded machine.
describe('tollgate keys generate / token mint', { timeout: 180_000 }, () => {
  let dir: string;
  let up: TestUpstream;
  let gw: GatewayProcess;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-keys-'));
    const res = await runCli(['keys', 'generate', '--out', join(dir, 'k')]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    up = await startUpstream();
    gw = await startGateway({
      services: [{ name: 'echo', url: up.url, routes: [{ name: 'api', paths: ['/api'], plugins: [{ name: 'jwt', config: { audience: 'ai-platform' } }] }] }],
      consumers: [{ username: 'admin', jwt_secrets: [{ key: 'admin-key', algorithm: 'RS256', rsa_public_key: readFileSync(join(dir, 'k', 'public.pem'), 'utf8') }] }],
    });
  }, 120_000);
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes a 4096-bit RS256 pair (private key 0600) and its JWK with a thumbprint kid', async () => {
    const priv = createPrivateKey(readFileSync(join(dir, 'k', 'private.pem'), 'utf8'));
    expect(priv.asymmetricKeyDetails?.modulusLength).toBe(4096);
    expect(statSync(join(dir, 'k', 'private.pem')).mode & 0o777).toBe(0o600);
    const pub = createPublicKey(readFileSync(join(dir, 'k', 'public.pem'), 'utf8'));
    const jwk = JSON.parse(readFileSync(join(dir, 'k', 'jwk.json'), 'utf8')) as JWK & { kid: string };
    expect(jwk).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(jwk.n).toBe((pub.export({ format: 'jwk' }) as JWK).n);
    expect(jwk.kid).toBe(await calculateJwkThumbprint(jwk));
    expect(jwk).not.toHaveProperty('d');
  });

  it('mints a token like the seed snippet that the gateway accepts', async () => {
    const res = await runCli(['token', 'mint', '--key', join(dir, 'k', 'private.pem'), '--iss', 'admin-key', '--sub', 'user-id', '--aud', 'ai-platform', '--scopes', 'api.read,api.write', '--ttl', '2h']);
    expect(res.code).toBe(0);
    const token = res.stdout.trim();
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'RS256', typ: 'JWT' });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ iss: 'admin-key', sub: 'user-id', aud: 'ai-platform', kid: 'admin-key', scopes: ['api.read', 'api.write'] });
    expect(claims.exp! - claims.iat!).toBe(7200);
    expect(claims.nbf).toBe(claims.iat);
    const proxied = await request(`${gw.url}/api`, { headers: { authorization: `Bearer ${token}` } });
    const echo = (await proxied.body.json()) as { headers: Record<string, string> };
    expect(proxied.statusCode).toBe(200);
    expect(echo.headers['x-authenticated-scope']).toBe('api.read api.write');
  });

  it('bad arguments: exit 2 with one clear line', async () => {
    const key = join(dir, 'k', 'private.pem');
    const cases: Array<[string[], RegExp]> = [
      [['keys', 'generate', '--out', join(dir, 'k')], /private\.pem already exists; choose another --out directory/],
      [['keys', 'generate', '--bits', '1000', '--out', join(dir, 'small')], /^tollgate: --bits: expected 2048/],
      [['token', 'mint', '--iss', 'a', '--sub', 'b'], /required option '--key <pem>' not specified/],
      [['token', 'mint', '--key', key, '--sub', 'b'], /required option '--iss <key>' not specified/],
      [['token', 'mint', '--key', join(dir, 'nope.pem'), '--iss', 'a', '--sub', 'b'], /^tollgate: --key: cannot read .*nope\.pem: file not found$/],
      [['token', 'mint', '--key', join(dir, 'k', 'public.pem'), '--iss', 'a', '--sub', 'b'], /is not a PEM private key/],
      [['token', 'mint', '--key', key, '--iss', 'a', '--sub', 'b', '--ttl', 'forever'], /^tollgate: --ttl: expected a duration such as 1h/],
    ];
    for (const [args, message] of cases) {
      const res = await runCli(args);
      expect(res.code, args.join(' ')).toBe(2);
      expect(res.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(res.stderr.trim(), args.join(' ')).toMatch(message);
    }
  });
});
