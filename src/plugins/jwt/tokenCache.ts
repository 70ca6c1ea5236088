import { hash } from 'node:crypto';

/**
 * A bounded LRU of verified tokens, keyed by the SHA-256 of the token (the token itself is
 * never kept), so a repeated token costs no signature verification. Entries carry their own
 * deadline (the token's `exp`); `clear()` runs when stored entities change, and each hit is
 * re-validated by its authority (credential still the same, not revoked), so the cache never
 * outlives a revocation or a deleted credential.
 */
export class VerifiedTokenCache<V extends { expiresAt: number }> {
  private readonly entries = new Map<string, V>();

  constructor(private readonly max = 10_000) {}

  static keyOf(token: string): string {
    return hash('sha256', token, 'base64url');
  }

  /** The entry when present and not past its deadline (refreshing its LRU position). */
  get(key: string, nowMs: number): V | undefined {
    const v = this.entries.get(key);
    if (v === undefined) return undefined;
    this.entries.delete(key);
    if (nowMs >= v.expiresAt) return undefined;
    this.entries.set(key, v);
    return v;
  }

  set(key: string, value: V): void {
    this.entries.delete(key);
    if (this.entries.size >= this.max) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, value);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
