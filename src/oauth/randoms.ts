import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Random values and hashes of the authorization server. */

/** A 256-bit random value, base64url (codes, refresh tokens, login states, cookies). */
export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * SHA-256 (hex) of a high-entropy value: how codes, refresh tokens and login states are stored
 * (a 256-bit random value needs no slow hash; a database leak reveals no usable token).
 */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** Constant-time equality of two strings (compared as SHA-256 digests, so lengths leak nothing). */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}
