import type { StoreHealthView } from './health.js';

/**
 * A per-replica cache of one kind of request-path store read (a credential by key, an OAuth
 * client, a workspace override, a user's memberships), kept `gateway.db_cache_ttl` and dropped
 * on every entity change (`clear()` on `entitiesChanged`). Used by jwt, the OAuth client cache
 * and token-budget alike:
 *
 * - A fresh value is returned synchronously (no promise on the hot path). Absent rows (null,
 *   []) are values too.
 * - Concurrent lookups of one key share one store read.
 * - An expired value is kept for outages: while the store is known to be unreachable
 *   (`store.health`), it answers at once, and only one read at a time (the health's probe,
 *   after a short backoff) tries the store, refreshing it in the background. The first read to
 *   meet a hung store waits for it (at most the lookup deadline, 3 s) and then serves the
 *   expired value.
 * - A key with nothing cached reads the store (bounded by that deadline); while the store is
 *   known down and another read is probing it, it fails at once with StoreUnavailableError
 *   (503), never a wait.
 * - At most `maxEntries` keys; when full, the oldest goes.
 */

interface Entry<V> {
  value: V | undefined;
  has: boolean;
  expiresAt: number;
  pending: Promise<V> | null;
}

export class StoreCache<V> {
  #entries = new Map<string, Entry<V>>();

  constructor(
    private readonly health: StoreHealthView,
    /** `gateway.db_cache_ttl`, ms; a reload may change it. */
    public ttlMs: number,
    private readonly load: (key: string) => Promise<V>,
    private readonly maxEntries = 10_000,
  ) {}

  get(key: string, now = Date.now()): V | Promise<V> {
    const e = this.#entries.get(key);
    if (e !== undefined) {
      if (e.has && now < e.expiresAt) return e.value as V;
      if (e.pending !== null) return e.has && !this.health.reachable ? (e.value as V) : e.pending;
    }
    return this.#refresh(key, e);
  }

  /**
   * Reads the store now, whatever is cached (the OAuth endpoints: a deleted client is refused
   * at once), and remembers the answer. Fails like `get` with nothing cached.
   */
  async fresh(key: string): Promise<V> {
    const started = this.health.attempt(this.load, key);
    if (started === null) throw this.health.error();
    const entries = this.#entries;
    const value = await started;
    if (entries === this.#entries) {
      const e = entries.get(key) ?? this.#add(entries, key);
      this.#keep(e, value);
    }
    return value;
  }

  /** Forgets everything (stored entities changed), including reads in flight. */
  clear(): void {
    this.#entries = new Map();
  }

  #refresh(key: string, e: Entry<V> | undefined): V | Promise<V> {
    const started = this.health.attempt(this.load, key);
    if (started === null) return e?.has === true ? (e.value as V) : Promise.reject(this.health.error());
    const entries = this.#entries;
    const entry = e ?? this.#add(entries, key);
    const pending = started.then(
      (value) => {
        entry.pending = null;
        this.#keep(entry, value);
        return value;
      },
      (err: unknown) => {
        entry.pending = null;
        if (entry.has) return entry.value as V;
        if (entries.get(key) === entry) entries.delete(key);
        throw err;
      },
    );
    entry.pending = pending;
    // While the store is down this read is the probe: the expired value answers now.
    return entry.has && !this.health.reachable ? (entry.value as V) : pending;
  }

  #add(entries: Map<string, Entry<V>>, key: string): Entry<V> {
    if (entries.size >= this.maxEntries) {
      const oldest = entries.keys().next();
      if (!oldest.done) entries.delete(oldest.value);
    }
    const entry: Entry<V> = { value: undefined, has: false, expiresAt: 0, pending: null };
    entries.set(key, entry);
    return entry;
  }

  #keep(entry: Entry<V>, value: V): void {
    entry.value = value;
    entry.has = true;
    entry.expiresAt = Date.now() + this.ttlMs;
  }
}
