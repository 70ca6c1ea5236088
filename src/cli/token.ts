import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { SignJWT } from 'jose';
import { UserError } from '../core/errors.js';
import { parseDuration } from '../config/units.js';

export interface MintOptions {
  key: KeyObject;
  iss: string;
  sub: string;
  aud?: string;
  scopes?: string[];
  /** Lifetime in seconds. */
  ttl: number;
}

/** The JWS algorithm a private key signs with. */
export function algorithmFor(key: KeyObject): string {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return 'RS256';
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'prime256v1') return 'ES256';
      if (curve === 'secp384r1') return 'ES384';
      if (curve === 'secp521r1') return 'ES512';
      break;
    }
    case 'ed25519':
      return 'EdDSA';
  }
  throw new UserError(`--key: a ${key.asymmetricKeyType ?? 'symmetric'} key cannot sign a JWT here (use RSA, EC P-256/384/521 or Ed25519)`);
}

/**
 * A token like the seed's Python snippet: header `{alg, typ: JWT}`, payload `iss`, `sub`,
 * `aud` (when given), `exp`, `nbf`, `iat`, `kid` (= iss, in the payload as the seed puts it),
 * `scopes` (array, when given).
 */
export function mintToken(o: MintOptions): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = { iss: o.iss, sub: o.sub };
  if (o.aud !== undefined) payload.aud = o.aud;
  Object.assign(payload, { exp: now + o.ttl, nbf: now, iat: now, kid: o.iss });
  if (o.scopes !== undefined) payload.scopes = o.scopes;
  return new SignJWT(payload).setProtectedHeader({ alg: algorithmFor(o.key), typ: 'JWT' }).sign(o.key);
}

export async function readPrivateKey(file: string): Promise<KeyObject> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`--key: cannot read ${file}: ${code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : (err as Error).message}`);
  }
  try {
    return createPrivateKey(pem);
  } catch {
    throw new UserError(`--key: ${file} is not a PEM private key (try the private.pem of 'tollgate keys generate')`);
  }
}

/** `--ttl 1h` / `30m` / `3600` → seconds (1 s to 1 year). */
export function parseTtl(value: string | undefined): number {
  if (value === undefined) return 3600;
  const ms = parseDuration(value, 's');
  if (ms === null || ms < 1000 || ms > 365 * 86_400_000) throw new UserError(`--ttl: expected a duration such as 1h, 30m or 3600 (1 s to 365 d), got '${value}'`);
  return Math.floor(ms / 1000);
}

export interface TokenMintArgs {
  key: string;
  iss: string;
  sub: string;
  aud?: string;
  scopes?: string;
  ttl?: string;
}

/** `tollgate token mint --key PEM --iss K --sub U [--aud A] [--scopes a,b] [--ttl 1h]`. */
export async function tokenMintCommand(opts: TokenMintArgs): Promise<void> {
  for (const name of ['iss', 'sub'] as const) if (opts[name].trim() === '') throw new UserError(`--${name}: must not be empty`);
  const ttl = parseTtl(opts.ttl);
  const scopes = opts.scopes === undefined ? undefined : opts.scopes.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const key = await readPrivateKey(opts.key);
  process.stdout.write(`${await mintToken({ key, iss: opts.iss, sub: opts.sub, aud: opts.aud, scopes, ttl })}\n`);
}
