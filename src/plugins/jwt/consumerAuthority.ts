import { compactVerify } from 'jose';
import type { Logger } from 'pino';
import type { Acceptance, TokenAuthority } from './authority.js';
import { cacheDeadline, checkClaims, type ClaimRules } from './claims.js';
import { keyOf, sameCredential, type CredentialCache, type ResolvedCredential } from './credentials.js';
import { identityFromClaims, stringClaim, stringList } from './identity.js';
import { invalidToken, notOurToken, type ParsedJwt } from './parse.js';

/** Longest a verified token stays cached when it has no `exp` (its credential is re-checked anyway). */
const NO_EXP_CACHE_MS = 5 * 60_000;

interface Proof {
  key: string;
  credential: ResolvedCredential;
}

function isPromise<T>(v: unknown): v is Promise<T> {
  return v instanceof Promise;
}

/**
 * Kong's `jwt` verification: the claim named `key_claim_name` (payload, then header) selects a
 * consumer's `jwt_secrets` credential; the token's `alg` must equal the credential's
 * `algorithm`; the signature is checked with the credential's key (a KeyObject parsed once).
 */
export class ConsumerCredentialAuthority implements TokenAuthority {
  constructor(
    private readonly credentials: CredentialCache,
    private readonly opts: { keyClaim: string; secretIsBase64: boolean; rules: ClaimRules; logger: Logger },
  ) {}

  async verify(jwt: ParsedJwt, nowMs: number): Promise<Acceptance> {
    const claim = this.opts.keyClaim;
    const key = stringClaim(jwt.payload[claim]) ?? stringClaim(jwt.header[claim]);
    if (key === null) throw invalidToken(`No mandatory '${claim}' in claims`);
    let credential = this.credentials.get(key, nowMs);
    if (isPromise<ResolvedCredential | null>(credential)) credential = await credential;
    if (credential === null) throw notOurToken(`No credentials found for given '${claim}'`);
    if (jwt.alg !== credential.secret.algorithm) throw invalidToken('Invalid algorithm');
    const keyObject = keyOf(credential, this.opts.secretIsBase64);
    if (keyObject === null) {
      this.opts.logger.warn({ credential: credential.secret.id }, 'jwt: the credential has no usable key (rsa_public_key / secret)');
      throw invalidToken('Invalid key/secret');
    }
    try {
      await compactVerify(jwt.raw, keyObject, { algorithms: [credential.secret.algorithm] });
    } catch (err) {
      // A signature that does not match is the client's problem; anything else is the key's.
      if ((err as { code?: string }).code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') throw invalidToken('Invalid signature');
      this.opts.logger.warn({ credential: credential.secret.id, err: (err as Error).message }, 'jwt: the credential\'s key cannot verify this token');
      throw invalidToken('Invalid key/secret');
    }
    checkClaims(jwt.payload, this.opts.rules, nowMs / 1000);
    const identity = identityFromClaims('jwt', jwt.payload, stringList(jwt.payload.roles));
    identity.consumerId = credential.consumer?.id ?? credential.secret.consumer_id;
    identity.consumerUsername = credential.consumer?.username ?? null;
    identity.consumerCustomId = credential.consumer?.custom_id ?? null;
    identity.credentialId = credential.secret.key;
    const proof: Proof = { key, credential };
    return { identity, expiresAt: cacheDeadline(jwt.payload, this.opts.rules.skew, nowMs, NO_EXP_CACHE_MS), authority: this, proof };
  }

  stillValid(acceptance: Acceptance, nowMs: number): boolean | Promise<boolean> {
    const proof = acceptance.proof as Proof;
    const now = this.credentials.get(proof.key, nowMs);
    if (isPromise<ResolvedCredential | null>(now)) return now.then((c) => c !== null && sameCredential(c, proof.credential));
    return now !== null && sameCredential(now, proof.credential);
  }
}
