import { generateKeyPair, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { UserError } from '../core/errors.js';

const generate = promisify(generateKeyPair);

export interface KeyFiles {
  privateKey: string;
  publicKey: string;
  jwk: string;
  kid: string;
}

/** Parses `--bits`: 2048 to 16384, a multiple of 1024 (the seed uses 4096). */
export function parseBits(value: string | undefined): number {
  if (value === undefined) return 4096;
  const bits = Number(value);
  if (!Number.isInteger(bits) || bits < 2048 || bits > 16384 || bits % 1024 !== 0) {
    throw new UserError(`--bits: expected 2048, 3072, 4096 … up to 16384 (a multiple of 1024), got '${value}'`);
  }
  return bits;
}

/** The public JWK of a key with `kid` = its RFC 7638 thumbprint, `alg: RS256`, `use: sig`. */
export async function publicJwk(publicKey: KeyObject): Promise<JWK & { kid: string }> {
  const jwk = publicKey.export({ format: 'jwk' }) as JWK;
  const kid = await calculateJwkThumbprint(jwk);
  return { ...jwk, kid, alg: 'RS256', use: 'sig' };
}

/**
 * Writes `private.pem` (PKCS#8, mode 0600), `public.pem` (SPKI) and `jwk.json` into `dir`.
 * Existing key files are never overwritten.
 */
export async function writeKeyPair(dir: string, bits: number): Promise<KeyFiles> {
  const files = { privateKey: join(dir, 'private.pem'), publicKey: join(dir, 'public.pem'), jwk: join(dir, 'jwk.json') };
  for (const f of Object.values(files)) {
    if (existsSync(f)) throw new UserError(`${f} already exists; choose another --out directory (keys are never overwritten)`);
  }
  await mkdir(dir, { recursive: true });
  const { privateKey, publicKey } = await generate('rsa', { modulusLength: bits });
  const jwk = await publicJwk(publicKey);
  await writeFile(files.privateKey, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  await writeFile(files.publicKey, publicKey.export({ type: 'spki', format: 'pem' }));
  await writeFile(files.jwk, `${JSON.stringify(jwk, null, 2)}\n`);
  return { ...files, kid: jwk.kid };
}

/** `tollgate keys generate [--bits 4096] [--out DIR]`. */
export async function keysGenerateCommand(opts: { bits?: string; out?: string }): Promise<void> {
  const bits = parseBits(opts.bits);
  const k = await writeKeyPair(opts.out ?? '.', bits);
  process.stdout.write(
    [
      `RS256 key pair (${bits} bits), kid ${k.kid}:`,
      `  ${k.privateKey}   private key: keep it secret (signing, gateway.signing_keys)`,
      `  ${k.publicKey}    public key: a consumer's jwt_secrets rsa_public_key`,
      `  ${k.jwk}      public JWK with kid`,
      '',
    ].join('\n'),
  );
}
