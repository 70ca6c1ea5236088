import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';

/** Key pairs and tokens for authentication tests (real RS256 signatures, as the seed makes them). */

export interface RsaPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
  privatePem: string;
  publicPem: string;
}

export function rsaPair(bits = 2048): RsaPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  return {
    privateKey,
    publicKey,
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

const now = () => Math.floor(Date.now() / 1000);

/**
 * The seed's Python snippet (PyJWT): header `{alg: RS256, typ: JWT}`, payload with iss, sub,
 * aud `ai-platform`, exp (+1 h), nbf, iat, `kid` in the payload and a `scopes` array.
 */
export function seedPayload(iss: string, sub: string, extra: JWTPayload = {}): JWTPayload {
  const t = now();
  return { iss, sub, aud: 'ai-platform', exp: t + 3600, nbf: t, iat: t, kid: iss, scopes: ['api.read', 'api.write'], ...extra };
}

/** Signs any payload (RS256 by default) with a header like PyJWT's. */
export async function sign(payload: JWTPayload, key: KeyObject, header: { alg?: string; kid?: string; typ?: string } = {}): Promise<string> {
  const alg = header.alg ?? 'RS256';
  return new SignJWT(payload).setProtectedHeader({ typ: 'JWT', ...header, alg }).sign(key);
}

/** A token minted exactly like the seed's snippet. */
export function seedToken(pair: RsaPair, iss = 'admin-key', sub = 'user-id', extra: JWTPayload = {}): Promise<string> {
  return sign(seedPayload(iss, sub, extra), pair.privateKey);
}

function b64(v: unknown): string {
  return Buffer.from(JSON.stringify(v)).toString('base64url');
}

/** `alg: none` (no signature). */
export function unsignedToken(payload: JWTPayload): string {
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`;
}

/** The classic key-confusion forgery: HS256 with the RSA public key (PEM) as the HMAC secret. */
export function hs256WithPublicKey(payload: JWTPayload, publicPem: string): string {
  const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', publicPem).update(input).digest('base64url')}`;
}

export function hs256(payload: JWTPayload, secret: string | Buffer): string {
  const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
