import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFile } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, all, copyTree, generateSecrets, removeTree, render, secretFiles } from './workspace.js';

/** scripts/generate-secrets.sh: what the overlays' secretGenerators read, and its rotations. */

const exec = promisify(execFile);
let tree: string;
const dir = () => join(tree, 'overlays/dev/secrets');
const read = (f: string) => readFileSync(join(dir(), f), 'utf8');

/** Every file under secrets/ with a hash of its content. */
function snapshot(): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(dir(), p)] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir());
  return out;
}

const changed = (a: Record<string, string>, b: Record<string, string>) => Object.keys({ ...a, ...b }).filter((k) => a[k] !== b[k]).sort();

beforeAll(async () => {
  tree = copyTree();
  await generateSecrets(tree, 'dev');
}, 120_000);

afterAll(() => removeTree(tree));

describe('generate-secrets.sh OVERLAY', () => {
  test("writes every file the overlay's secretGenerator reads, private to the operator", () => {
    const overlay = join(tree, 'overlays/dev');
    for (const f of secretFiles(overlay)) {
      expect(existsSync(join(overlay, f)), f).toBe(true);
      expect(statSync(join(overlay, f)).mode & 0o077, `${f} mode`).toBe(0);
    }
  });

  test('values that become environment variables or URL parts are single tokens without a newline', () => {
    for (const f of ['admin-token', 'oauth2-provision-key', 'oauth2-client-secret', 'postgres-password', 'redis-password']) expect(read(f), f).toMatch(/^[0-9a-f]{64}$/);
    expect(read('oauth2-client-id')).toMatch(/^admin-[0-9a-f]{16}$/);
    for (const k of ['signing-key', 'previous-signing-key', 'admin-key']) expect(read(`${k}/kid`)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  test('key pairs come from tollgate keys generate: matching halves, kid from the JWK, distinct keys', () => {
    const kids = new Set<string>();
    for (const k of ['signing-key', 'previous-signing-key', 'admin-key']) {
      const priv = createPrivateKey(read(`${k}/private.pem`));
      expect(priv.asymmetricKeyType).toBe('rsa');
      expect(createPublicKey(priv).export({ type: 'spki', format: 'pem' })).toBe(read(`${k}/public.pem`));
      const jwk = JSON.parse(read(`${k}/jwk.json`)) as { kid: string; alg: string };
      expect(read(`${k}/kid`)).toBe(jwk.kid);
      expect(jwk.alg).toBe('RS256');
      kids.add(jwk.kid);
    }
    expect(kids.size).toBe(3);
  });

  test('running it again changes nothing', async () => {
    const before = snapshot();
    await generateSecrets(tree, 'dev');
    expect(changed(before, snapshot())).toEqual([]);
  });

  test("the admin-key's private half never reaches the cluster; its public half does", async () => {
    const objects = await render(join(tree, 'overlays/dev'));
    const secretData = all(objects, 'Secret').flatMap((s) => Object.values((s.data ?? {}) as Record<string, string>).map((v) => Buffer.from(v.replace(/\s+/g, ''), 'base64').toString()));
    expect(secretData).not.toContain(read('admin-key/private.pem'));
    expect(secretData).toContain(read('admin-key/public.pem'));
    expect(secretData).toContain(read('signing-key/private.pem'));
  });

  test('git ignores the secrets directories of the real overlays', async () => {
    for (const overlay of ['dev', 'production']) {
      const { stdout } = await exec('git', ['check-ignore', '-v', `deploy/kubernetes/overlays/${overlay}/secrets/admin-token`], { cwd: ROOT });
      expect(stdout).toContain('deploy/kubernetes/.gitignore');
    }
  });
});

describe('rotation', () => {
  test('rotate NAME replaces exactly that secret', async () => {
    for (const name of ['admin-token', 'oauth2-client-secret', 'redis-password']) {
      const before = snapshot();
      await generateSecrets(tree, 'dev', 'rotate', name);
      expect(changed(before, snapshot())).toEqual([name]);
      expect(read(name)).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  test('rotate admin-key makes a new consumer key pair', async () => {
    const before = snapshot();
    await generateSecrets(tree, 'dev', 'rotate', 'admin-key');
    expect(changed(before, snapshot())).toEqual(['admin-key/jwk.json', 'admin-key/kid', 'admin-key/private.pem', 'admin-key/public.pem']);
  });

  test('signing keys rotate in two steps: a new verify-only key, then the swap', async () => {
    const signing = read('signing-key/kid');
    const before = snapshot();
    await generateSecrets(tree, 'dev', 'stage-signing-key');
    expect(changed(before, snapshot()).every((f) => f.startsWith('previous-signing-key/'))).toBe(true);
    const staged = read('previous-signing-key/kid');
    expect(staged).not.toBe(signing);
    await generateSecrets(tree, 'dev', 'promote-signing-key');
    expect(read('signing-key/kid')).toBe(staged);
    expect(read('previous-signing-key/kid')).toBe(signing);
    expect(existsSync(join(dir(), '.swap'))).toBe(false);
  });

  test('an unknown secret name or action is a usage error (exit 2)', async () => {
    for (const args of [['rotate', 'nonsense'], ['frobnicate']]) {
      const err = await generateSecrets(tree, 'dev', ...args).then(
        () => null,
        (e: { code: number; stderr: string }) => e,
      );
      expect(err?.code).toBe(2);
      expect(err?.stderr).toMatch(/stage-signing-key/);
    }
    const missing = await exec('bash', [join(tree, 'scripts/generate-secrets.sh'), join(tree, 'nowhere')]).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(missing?.code).toBe(2);
    expect(missing?.stderr).toMatch(/kustomization\.yaml not found/);
  });
});
