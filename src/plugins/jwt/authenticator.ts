import type { Identity } from '../../core/context.js';
import type { Acceptance, TokenAuthority } from './authority.js';
import { copyIdentity } from './identity.js';
import { parseJwt, type ParsedJwt } from './parse.js';
import { TOKEN_CACHE_BYTES, TOKEN_CACHE_ENTRIES, VerifiedTokenCache } from './tokenCache.js';

function isPromise<T>(v: unknown): v is Promise<T> {
  return v instanceof Promise;
}

/**
 * Verifies bearer JWTs through a TokenAuthority and caches the acceptance under the token's
 * hash until its `exp`, so a repeated token costs one SHA-256 and a map lookup, no signature
 * check. Shared by `jwt` and `custom-jwt-auth`; each plugin entry owns one.
 */
export class JwtAuthenticator {
  private readonly cache: VerifiedTokenCache<Acceptance>;

  constructor(
    /** Picks who verifies a parsed token (see `authorityFor` in each plugin). */
    private readonly authorityFor: (jwt: ParsedJwt) => TokenAuthority,
    cacheSize = TOKEN_CACHE_ENTRIES,
    cacheBytes = TOKEN_CACHE_BYTES,
  ) {
    this.cache = new VerifiedTokenCache<Acceptance>(cacheSize, cacheBytes);
  }

  /** The identity of a valid token; throws 401 (`invalid_token`) or 503. `connection`: see VerifiedTokenCache.keyOf. */
  authenticate(token: string, connection?: object): Identity | Promise<Identity> {
    const nowMs = Date.now();
    const key = VerifiedTokenCache.keyOf(token, connection);
    const hit = this.cache.get(key, nowMs);
    if (hit !== undefined) {
      const ok = hit.authority.stillValid(hit, nowMs);
      if (ok === true) return copyIdentity(hit.identity);
      if (isPromise<boolean>(ok)) return this.revalidate(token, key, hit, ok);
      this.cache.delete(key);
    }
    return this.verify(token, key, nowMs);
  }

  private async revalidate(token: string, key: string, hit: Acceptance, ok: Promise<boolean>): Promise<Identity> {
    if (await ok) return copyIdentity(hit.identity);
    this.cache.delete(key);
    return this.verify(token, key, Date.now());
  }

  private async verify(token: string, key: string, nowMs: number): Promise<Identity> {
    const jwt = parseJwt(token);
    let acceptance = this.authorityFor(jwt).verify(jwt, nowMs);
    if (isPromise<Acceptance>(acceptance)) acceptance = await acceptance;
    if (acceptance.expiresAt > Date.now()) this.cache.set(key, acceptance, VerifiedTokenCache.weightOf(token));
    return copyIdentity(acceptance.identity);
  }

  /** Stored entities changed: forget every verified token (credentials may be gone). */
  clear(): void {
    this.cache.clear();
  }
}
