import type { KeyObject } from 'node:crypto';
import { compactVerify } from 'jose';
import type { Acceptance, TokenAuthority } from '../jwt/authority.js';
import { cacheDeadline, checkClaims, type ClaimRules } from '../jwt/claims.js';
import { identityFromClaims, keycloakRoles, stringClaim } from '../jwt/identity.js';
import { invalidToken, notOurToken, type ParsedJwt } from '../jwt/parse.js';
import type { RemoteKeySet } from './jwks.js';

/** A verified token is re-checked against the live key set on every cache hit; this caps its cache life. */
const MAX_CACHE_MS = 60 * 60_000;

interface Proof {
  kid: string | null;
  key: KeyObject;
}

/**
 * Verifies tokens of one OIDC issuer (Keycloak by default) against its JWKS: `alg` in
 * `algorithms`, `iss` equal to the expected issuer (checked before any key is fetched), the
 * signature with the key named by `kid`, then `exp`/`nbf`/`aud`. Claims are mapped the
 * Keycloak way (SPEC §5).
 */
export class JwksAuthority implements TokenAuthority {
  constructor(
    private readonly keys: RemoteKeySet,
    private readonly opts: { issuer: string | null; algorithms: ReadonlySet<string>; rules: ClaimRules },
  ) {}

  async verify(jwt: ParsedJwt, nowMs: number): Promise<Acceptance> {
    if (!this.opts.algorithms.has(jwt.alg)) throw invalidToken('Invalid algorithm');
    const issuer = this.opts.issuer ?? this.keys.issuer;
    if (issuer !== null && jwt.payload.iss !== issuer) throw notOurToken('Invalid issuer');
    const kid = stringClaim(jwt.header.kid);
    const key = await this.keys.keyFor(kid, jwt.alg);
    // Discovery-only config: the issuer is known once the document was read.
    if (issuer === null && jwt.payload.iss !== this.keys.issuer) throw notOurToken('Invalid issuer');
    try {
      await compactVerify(jwt.raw, key, { algorithms: [jwt.alg] });
    } catch {
      throw invalidToken('Invalid signature');
    }
    // Keycloak also signs ID and refresh tokens for the realm; only access tokens open the door.
    if (typeof jwt.payload.typ === 'string' && jwt.payload.typ !== 'Bearer') throw invalidToken('Not an access token');
    checkClaims(jwt.payload, this.opts.rules, nowMs / 1000);
    const identity = identityFromClaims('custom-jwt-auth', jwt.payload, keycloakRoles(jwt.payload));
    const proof: Proof = { kid, key };
    return { identity, expiresAt: cacheDeadline(jwt.payload, this.opts.rules.skew, nowMs, MAX_CACHE_MS), authority: this, proof };
  }

  stillValid(acceptance: Acceptance): boolean {
    const proof = acceptance.proof as Proof;
    return this.keys.stillHas(proof.kid, proof.key);
  }
}
