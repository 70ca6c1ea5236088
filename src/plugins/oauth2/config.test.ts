import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { runCli } from '../../../test/helpers/gateway.js';
import { keyFile } from '../../../test/helpers/oauth.js';

/**
 * `tollgate config validate` on oauth2 configs: exit 2 and one `FILE: path: problem` line each
 * for a missing issuer or signing key, an unreadable key, the grants OAuth 2.1 removed,
 * `pkce: none`, and oauth2 entries that disagree about the one authorization server.
 */

const dir = mkdtempSync(join(tmpdir(), 'tollgate-oauth-config-'));
const key = keyFile();
let n = 0;

async function validate(config: unknown): Promise<{ code: number | null; lines: string[] }> {
  const file = join(dir, `c${n++}.yaml`);
  writeFileSync(file, stringify(config));
  const { code, stdout, stderr } = await runCli(['config', 'validate', file]);
  return { code, lines: `${stdout}${stderr}`.split('\n').filter((l) => l.startsWith(file)).map((l) => l.slice(file.length + 2)) };
}

const gateway = { issuer: 'https://api.your-domain.com', signing_keys: [{ kid: 'gw-1', private_key_file: key }] };

describe('oauth2 config validation', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts a complete config', async () => {
    const res = await validate({ gateway, plugins: [{ name: 'oauth2', config: { provision_key: 'a-provision-key', enable_implicit_grant: false } }] });
    expect(res).toEqual({ code: 0, lines: ['ok'] });
  });

  it('requires gateway.issuer and a signing key', async () => {
    const res = await validate({ plugins: [{ name: 'oauth2' }] });
    expect(res.code).toBe(2);
    expect(res.lines).toEqual([
      expect.stringMatching(/^gateway\.issuer: required by the oauth2 plugin/),
      expect.stringMatching(/^gateway\.signing_keys: the oauth2 plugin needs a signing key/),
    ]);
  });

  it('names an unreadable or unusable key file', async () => {
    const notAKey = join(dir, 'not-a-key.pem');
    writeFileSync(notAKey, 'hello');
    const res = await validate({
      gateway: { issuer: 'https://a.example', signing_keys: [{ kid: 'a', private_key_file: join(dir, 'missing.pem') }, { kid: 'b', private_key_file: notAKey }] },
      plugins: [{ name: 'oauth2' }],
    });
    expect(res.lines).toEqual([
      expect.stringMatching(/^gateway\.signing_keys\[0\]\.private_key_file: cannot read private_key_file .*missing\.pem: ENOENT/),
      'gateway.signing_keys[1].private_key_file: not a PEM private key (generate one with: openssl genrsa -out private.pem 4096)',
    ]);
  });

  it('refuses the implicit and password grants and pkce: none, saying why', async () => {
    const res = await validate({ gateway, plugins: [{ name: 'oauth2', config: { enable_implicit_grant: true, enable_password_grant: true, pkce: 'none' } }] });
    expect(res.code).toBe(2);
    expect(res.lines).toEqual([
      expect.stringMatching(/^plugins\[0\]\.config\.enable_implicit_grant: OAuth 2\.1 removed the implicit grant/),
      expect.stringMatching(/^plugins\[0\]\.config\.enable_password_grant: OAuth 2\.1 removed the password grant/),
      expect.stringMatching(/^plugins\[0\]\.config\.pkce: OAuth 2\.1 requires PKCE: use 'strict'/),
    ]);
  });

  it('refuses oauth2 entries that disagree; hide_credentials may differ', async () => {
    const service = (config: Record<string, unknown>) => ({ name: 's', url: 'http://up:80', routes: [{ name: 'r', paths: ['/r'], plugins: [{ name: 'oauth2', config }] }] });
    const ok = await validate({ gateway, plugins: [{ name: 'oauth2', config: { scopes: ['a'] } }], services: [service({ scopes: ['a'], hide_credentials: true })] });
    expect(ok.code).toBe(0);
    const bad = await validate({ gateway, plugins: [{ name: 'oauth2', config: { scopes: ['a'] } }], services: [service({ scopes: ['b'] })] });
    expect(bad.lines).toEqual([expect.stringMatching(/^services\[0\]\.routes\[0\]\.plugins\[0\]\.config: differs from the oauth2 entry at plugins\[0\]/)]);
  });

  it('bounds code_ttl and refuses an issuer with a query', async () => {
    const res = await validate({ gateway: { ...gateway, issuer: 'https://a.example/?x=1' }, plugins: [{ name: 'oauth2', config: { code_ttl: 601 } }] });
    expect(res.lines).toEqual(expect.arrayContaining([expect.stringMatching(/code_ttl: an authorization code lives at most 600 s/)]));
  });
});
