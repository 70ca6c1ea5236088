import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Client secrets are stored as scrypt hashes only:
 * `scrypt$<N>$<r>$<p>$<salt, base64url>$<hash, base64url>` (N=16384, r=8, p=1, 16-byte random
 * salt, 32-byte hash). Parameters are stored with the hash so they can be raised later without
 * breaking stored secrets.
 */

const N = 16384;
const R = 8;
const P = 1;
const SALT_BYTES = 16;
const HASH_BYTES = 32;
const PREFIX = 'scrypt';

// Bounds for parameters read back from storage, so a crafted value cannot make a verify cost
// seconds or gigabytes.
const MAX_N = 1 << 20;
const MAX_R = 32;
const MAX_P = 16;

function derive(plain: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(plain.normalize('NFC'), salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** 128 · N · r · p bytes plus headroom (Node's default maxmem is 32 MiB). */
function maxmem(n: number, r: number, p: number): number {
  return 128 * n * r * p + 1024 * 1024;
}

export async function hashSecret(plain: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(plain, salt, HASH_BYTES, { N, r: R, p: P, maxmem: maxmem(N, R, P) });
  return [PREFIX, N, R, P, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

interface ParsedHash {
  n: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

const B64URL = /^[A-Za-z0-9_-]+$/;

function positiveInt(s: string, max: number): number | null {
  if (!/^[1-9]\d{0,7}$/.test(s)) return null;
  const v = Number(s);
  return v <= max ? v : null;
}

function parseHash(stored: string): ParsedHash | null {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== PREFIX) return null;
  const [, ns, rs, ps, salt64, hash64] = parts;
  const n = positiveInt(ns, MAX_N);
  const r = positiveInt(rs, MAX_R);
  const p = positiveInt(ps, MAX_P);
  if (n === null || r === null || p === null || n < 2 || (n & (n - 1)) !== 0) return null;
  if (!B64URL.test(salt64) || !B64URL.test(hash64)) return null;
  const salt = Buffer.from(salt64, 'base64url');
  const hash = Buffer.from(hash64, 'base64url');
  if (salt.length < 8 || hash.length < 16 || hash.length > 64) return null;
  return { n, r, p, salt, hash };
}

/** True when `stored` has the hash format (as `config export` writes it). */
export function isSecretHash(stored: string): boolean {
  return parseHash(stored) !== null;
}

/**
 * Whether `plain` is the secret behind `stored`, compared in constant time. False for a wrong
 * secret and for a malformed stored value; never throws.
 */
export async function verifySecret(plain: string, stored: string): Promise<boolean> {
  try {
    const parsed = parseHash(stored);
    if (parsed === null) return false;
    const { n, r, p, salt, hash } = parsed;
    const actual = await derive(plain, salt, hash.length, { N: n, r, p, maxmem: maxmem(n, r, p) });
    return timingSafeEqual(actual, hash);
  } catch {
    return false;
  }
}
