import type { Identity } from '../../core/context.js';
import type { ParsedJwt } from './parse.js';

/**
 * Something that can vouch for a JWT. The `jwt` plugin asks `authorityFor()` (handler.ts) which
 * authority handles a parsed token: the consumers' `jwt_secrets` (Kong's jwt), and — added by
 * the oauth2 plugin — tollgate's own issuer (`gateway.issuer`, `gateway.signing_keys`).
 */
export interface TokenAuthority {
  /**
   * Verifies the signature and the claims; throws `invalidToken(...)` (401) or a 503 when a
   * dependency is down. The acceptance is cached until `expiresAt` under the token's hash.
   */
  verify(jwt: ParsedJwt, nowMs: number): Acceptance | Promise<Acceptance>;
  /**
   * Called on every cache hit: false when the acceptance must not be reused any more (the
   * credential was deleted or changed, the token was revoked). The token is then verified anew.
   * Should be synchronous while nothing changed (the hot path).
   */
  stillValid(acceptance: Acceptance, nowMs: number): boolean | Promise<boolean>;
}

/** A verified token: the identity it carries, how long it may be cached, and the authority's proof. */
export interface Acceptance {
  identity: Identity;
  /** ms since the epoch; at most the token's `exp`. */
  expiresAt: number;
  authority: TokenAuthority;
  /** Whatever `stillValid` needs (the credential it was checked against, the `jti`, …). */
  proof: unknown;
}
