import { hash } from 'node:crypto';
import { LruMap } from '../../core/lruMap.js';

/**
 * A bounded LRU of verified tokens, keyed by the SHA-256 of the token (the token itself is
 * never kept), so a repeated token costs no signature verification. Entries carry their own
 * deadline (the token's `exp`); `clear()` runs when stored entities change, and each hit is
 * re-validated by its authority (credential still the same, not revoked), so the cache never
 * outlives a revocation or a deleted credential.
 */
export class VerifiedTokenCache<V extends { expiresAt: number }> {
  private readonly entries: LruMap<string, V>;

  constructor(max = 10_000) {
    this.entries = new LruMap(max);
  }

  static keyOf(token: string): string {
    return hash('sha256', token, 'base64url');
  }

  /** The entry when present and not past its deadline (refreshing its LRU position). */
  get(key: string, nowMs: number): V | undefined {
    const v = this.entries.get(key);
    if (v === undefined || nowMs < v.expiresAt) return v;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, value: V): void {
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
