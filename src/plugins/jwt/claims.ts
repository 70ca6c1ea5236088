import { invalidToken } from './parse.js';

/**
 * Registered-claim checks shared by `jwt` and `custom-jwt-auth`, built once per plugin entry.
 * `exp` and `nbf` are always checked when present; `required` makes them mandatory (Kong's
 * `claims_to_verify`). Times are seconds since the epoch; `skew` is leeway in seconds.
 */
export interface ClaimRules {
  required: ReadonlySet<'exp' | 'nbf'>;
  /** Largest allowed `exp - now` (s); 0 = no limit (Kong's `maximum_expiration`). */
  maximumExpiration: number;
  /** `aud` (string or array) must contain this. */
  audience: string | null;
  /** `iss` must equal one of these. */
  issuers: ReadonlySet<string> | null;
  skew: number;
}

function numericClaim(payload: Record<string, unknown>, name: 'exp' | 'nbf', rules: ClaimRules): number | null {
  const v = payload[name];
  if (v === undefined) {
    if (rules.required.has(name)) throw invalidToken(`'${name}' must be a number`);
    return null;
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalidToken(`'${name}' must be a number`);
  return v;
}

export function audienceContains(aud: unknown, expected: string): boolean {
  if (typeof aud === 'string') return aud === expected;
  return Array.isArray(aud) && aud.includes(expected);
}

/** Throws the 401 for the first failing claim. */
export function checkClaims(payload: Record<string, unknown>, rules: ClaimRules, nowSec: number): void {
  const exp = numericClaim(payload, 'exp', rules);
  if (exp !== null && nowSec >= exp + rules.skew) throw invalidToken('token expired');
  const nbf = numericClaim(payload, 'nbf', rules);
  if (nbf !== null && nowSec + rules.skew < nbf) throw invalidToken('token not valid yet');
  if (rules.maximumExpiration > 0 && (exp === null || exp - nowSec > rules.maximumExpiration)) {
    throw invalidToken('exceeds maximum allowed expiration');
  }
  if (rules.issuers !== null && !(typeof payload.iss === 'string' && rules.issuers.has(payload.iss))) throw invalidToken('Unknown issuer');
  if (rules.audience !== null && !audienceContains(payload.aud, rules.audience)) throw invalidToken('Invalid audience');
}

/** Longest a verified token may be served from cache: until `exp` (+ skew), at most `capMs`. */
export function cacheDeadline(payload: Record<string, unknown>, skew: number, nowMs: number, capMs: number): number {
  const exp = payload.exp;
  const cap = nowMs + capMs;
  if (typeof exp !== 'number') return cap;
  return Math.min((exp + skew) * 1000, cap);
}
