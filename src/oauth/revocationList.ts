import type { RevokedToken } from '../store/types.js';

/**
 * The revoked access tokens of this replica: `jti` → expiry (ms). The request path asks
 * `has(jti)`, a map lookup, no I/O. Entries leave once their token has expired (it is refused
 * for that anyway). Filled by the RevocationFeed from the store and Redis.
 */
export class RevocationList {
  private readonly revoked = new Map<string, number>();

  has(jti: string): boolean {
    return this.revoked.has(jti);
  }

  add(tokens: readonly RevokedToken[]): void {
    for (const t of tokens) this.revoked.set(t.jti, t.expires_at);
  }

  /** Forgets revocations of tokens that expired before `now`. */
  sweep(now: number): void {
    for (const [jti, exp] of this.revoked) if (exp <= now) this.revoked.delete(jti);
  }

  get size(): number {
    return this.revoked.size;
  }
}
