import { createHash } from 'node:crypto';
import { safeEqual } from './randoms.js';

/**
 * PKCE (RFC 7636), S256 only: OAuth 2.1 and RFC 9700 refuse `plain`. A verifier is 43-128
 * unreserved characters; an S256 challenge is the base64url SHA-256 of it (43 characters).
 */

const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

export function isVerifier(value: string): boolean {
  return VERIFIER.test(value);
}

export function isS256Challenge(value: string): boolean {
  return S256_CHALLENGE.test(value);
}

export function s256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** True when `verifier` is well formed and hashes to `challenge` (constant-time comparison). */
export function verifierMatches(verifier: string, challenge: string): boolean {
  return isVerifier(verifier) && safeEqual(s256(verifier), challenge);
}
