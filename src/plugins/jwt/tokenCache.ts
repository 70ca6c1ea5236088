import { hash } from 'node:crypto';
import { LruMap } from '../../core/lruMap.js';

/**
 * A bounded LRU of verified tokens, keyed by the SHA-256 of the token (the token itself is
 * never kept), so a repeated token costs no signature verification. Entries carry their own
 * deadline (the token's `exp`); `clear()` runs when stored entities change, and each hit is
 * re-validated by its authority (credential still the same, not revoked), so the cache never
 * outlives a revocation or a deleted credential.
 */
export class VerifiedTokenCache<V extends { expiresAt: number }> extends LruMap<string, V> {
  constructor(max = 10_000) {
    super(max);
  }

  static keyOf(token: string): string {
    return hash('sha256', token, 'base64url');
  }

  /** The entry when present and not past its deadline (refreshing its LRU position). */
  override get(key: string, nowMs = Date.now()): V | undefined {
    const v = super.get(key);
    if (v === undefined || nowMs < v.expiresAt) return v;
    this.delete(key);
    return undefined;
  }
}
