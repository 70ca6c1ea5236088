import { UnauthorizedError } from '../../core/errors.js';

/**
 * The compact JWS parts of a JWT, decoded but NOT verified. Used to pick the credential or key
 * that will verify it; nothing here may be trusted before that verification succeeds.
 */
export interface ParsedJwt {
  /** The token exactly as received (what the signature is checked over). */
  raw: string;
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  /** `header.alg` (always a non-empty string once parsed). */
  alg: string;
}

/**
 * A rejected token: 401 with `WWW-Authenticate: Bearer error="invalid_token"` (SPEC §4/§5).
 * Messages are fixed texts (Kong's where Kong has one), never token contents or internals.
 */
export function invalidToken(message: string): UnauthorizedError {
  return new UnauthorizedError(message, { 'www-authenticate': `Bearer error="invalid_token", error_description="${message.replace(/["\\]/g, "'")}"` });
}

/**
 * A token this plugin has no key for (its issuer is not one of this plugin's consumers or
 * identity providers): another authentication plugin on the route may own it, so when every
 * plugin refuses, the others' reasons ('token expired', 'Invalid audience') are what the
 * client is told. See `rank` in src/core/pipeline.ts.
 */
export function notOurToken(message: string): UnauthorizedError {
  return Object.assign(invalidToken(message), { notOurs: true });
}

const SEGMENT = /^[A-Za-z0-9_-]*$/;

function decodeJson(segment: string): Record<string, unknown> | null {
  if (!SEGMENT.test(segment)) return null;
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Splits and decodes a compact JWS; throws `Bad token` for anything malformed. */
export function parseJwt(raw: string): ParsedJwt {
  const first = raw.indexOf('.');
  const second = first < 0 ? -1 : raw.indexOf('.', first + 1);
  // Not a JWT at all: an opaque token, which another authentication plugin on the route (an
  // auth service) may own; its reason is the one to tell when it refuses too.
  if (first <= 0 || second < 0 || raw.indexOf('.', second + 1) >= 0) throw notOurToken('Bad token; not a JWT');
  const header = decodeJson(raw.slice(0, first));
  if (header === null) throw invalidToken('Bad token; invalid JSON in header');
  const payload = decodeJson(raw.slice(first + 1, second));
  if (payload === null) throw invalidToken('Bad token; invalid JSON in claims');
  const signature = raw.slice(second + 1);
  if (!SEGMENT.test(signature)) throw invalidToken('Bad token; invalid signature encoding');
  const alg = header.alg;
  if (typeof alg !== 'string' || alg === '') throw invalidToken('Bad token; no algorithm');
  // Unsecured JWTs (RFC 7519 §6) are never accepted, whatever a credential says.
  if (alg.toLowerCase() === 'none' || signature === '') throw invalidToken('Invalid algorithm');
  // No JWS extension is understood here, so a token that marks one critical is refused (RFC 7515
  // §4.1.11); `b64: false` (RFC 7797) would make the claims read below differ from what was signed.
  if (header.crit !== undefined || header.b64 !== undefined) throw invalidToken('Bad token; unsupported critical header parameter');
  return { raw, header, payload, alg };
}
