/**
 * A per-replica cache of store reads on the request path (workspace overrides, memberships),
 * kept `gateway.db_cache_ttl` and dropped on every entity change (`entitiesChanged`).
 *
 * - A fresh value is returned synchronously (no promise on the hot path).
 * - Concurrent misses of one key share one store query.
 * - When the store fails and an expired value is still held, that value keeps serving (and the
 *   next request tries again): an unreachable database does not stop traffic it already knew.
 * - At most `maxEntries` keys; when full, the cache starts over (simple and bounded).
 */

interface Entry<V> {
  value: V | undefined;
  has: boolean;
  expiresAt: number;
  pending: Promise<V> | null;
}

export class StoreCache<V> {
  private entries = new Map<string, Entry<V>>();

  constructor(
    private readonly ttlMs: number,
    private readonly load: (key: string) => Promise<V>,
    private readonly maxEntries = 10_000,
  ) {}

  get(key: string): V | Promise<V> {
    const now = Date.now();
    let e = this.entries.get(key);
    if (e !== undefined && e.has && e.expiresAt > now) return e.value as V;
    if (e !== undefined && e.pending !== null) return e.pending;
    if (e === undefined) {
      if (this.entries.size >= this.maxEntries) this.entries = new Map();
      e = { value: undefined, has: false, expiresAt: 0, pending: null };
      this.entries.set(key, e);
    }
    const entry = e;
    const generation = this.entries;
    const pending = this.load(key).then(
      (value) => {
        entry.pending = null;
        if (this.ttlMs > 0) {
          entry.value = value;
          entry.has = true;
          entry.expiresAt = Date.now() + this.ttlMs;
        } else {
          generation.delete(key);
        }
        return value;
      },
      (err: unknown) => {
        entry.pending = null;
        if (entry.has) return entry.value as V;
        generation.delete(key);
        throw err;
      },
    );
    entry.pending = pending;
    return pending;
  }

  /** Forgets everything (stored entities changed). */
  clear(): void {
    this.entries = new Map();
  }
}
