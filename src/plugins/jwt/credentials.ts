import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import type { Consumer, JwtSecret, Store } from '../../store/types.js';

/** A `jwt_secrets` credential with its consumer and its key, parsed once. */
export interface ResolvedCredential {
  secret: JwtSecret;
  consumer: Consumer | null;
  /** Lazily parsed verification keys (HS* secrets depend on `secret_is_base64`). */
  keys: { plain?: KeyObject | null; base64?: KeyObject | null };
}

interface Entry {
  value: ResolvedCredential | null;
  expiresAt: number;
}

/**
 * Per-replica cache of `jwtSecrets.getByKey` (SPEC §5, `gateway.db_cache_ttl`): hits and misses
 * are kept for the TTL, concurrent lookups of one key share one query, and `clear()` (stored
 * entities changed) drops everything, including lookups in flight. While the store is down, an
 * expired hit keeps serving rather than failing every request.
 */
export class CredentialCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<ResolvedCredential | null>>();
  private generation = 0;

  constructor(
    private readonly store: Store,
    /** `gateway.db_cache_ttl`; updated when a reload changes it. */
    public ttlMs: number,
    private readonly logger: Logger,
    private readonly max = 10_000,
  ) {}

  /** Synchronous when cached and fresh (the hot path), else one store query. */
  lookup(key: string, nowMs: number): ResolvedCredential | null | Promise<ResolvedCredential | null> {
    const e = this.entries.get(key);
    if (e !== undefined && nowMs < e.expiresAt) return e.value;
    const pending = this.inflight.get(key);
    if (pending !== undefined) return pending;
    const p = this.fetch(key, e);
    this.inflight.set(key, p);
    return p;
  }

  private async fetch(key: string, stale: Entry | undefined): Promise<ResolvedCredential | null> {
    const generation = this.generation;
    try {
      const secret = await this.store.jwtSecrets.getByKey(key);
      const consumer = secret === null ? null : await this.store.consumers.get(secret.consumer_id);
      const value: ResolvedCredential | null = secret === null ? null : { secret, consumer, keys: {} };
      if (generation === this.generation) this.remember(key, value);
      return value;
    } catch (err) {
      if (stale?.value) {
        this.logger.warn({ err }, 'jwt: store lookup failed; serving the cached credential');
        return stale.value;
      }
      throw err;
    } finally {
      if (generation === this.generation) this.inflight.delete(key);
    }
  }

  private remember(key: string, value: ResolvedCredential | null): void {
    this.entries.delete(key);
    if (this.entries.size >= this.max) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { value, expiresAt: Date.now() + this.ttlMs });
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
    this.inflight.clear();
  }
}

const caches = new WeakMap<Store, CredentialCache>();

/** One cache per store (so per replica), shared by every `jwt` entry. */
export function credentialCacheFor(store: Store, ttlMs: number, logger: Logger): CredentialCache {
  let cache = caches.get(store);
  if (cache === undefined) {
    cache = new CredentialCache(store, ttlMs, logger);
    caches.set(store, cache);
  }
  cache.ttlMs = ttlMs;
  return cache;
}

/** True when two lookups describe the same credential (same id, algorithm, key material, consumer). */
export function sameCredential(a: ResolvedCredential, b: ResolvedCredential): boolean {
  if (a === b) return true;
  const x = a.secret;
  const y = b.secret;
  return (
    x.id === y.id &&
    x.key === y.key &&
    x.algorithm === y.algorithm &&
    x.rsa_public_key === y.rsa_public_key &&
    x.secret === y.secret &&
    x.consumer_id === y.consumer_id &&
    a.consumer?.id === b.consumer?.id &&
    a.consumer?.username === b.consumer?.username
  );
}

/**
 * The credential's verification key as a KeyObject, parsed on first use and kept with the
 * cached credential. null when the stored material cannot be parsed (logged by the caller).
 */
export function keyOf(cred: ResolvedCredential, secretIsBase64: boolean): KeyObject | null {
  const slot = secretIsBase64 ? 'base64' : 'plain';
  const known = cred.keys[slot];
  if (known !== undefined) return known;
  let key: KeyObject | null = null;
  try {
    const s = cred.secret;
    if (s.algorithm.startsWith('HS')) {
      if (s.secret !== null) key = createSecretKey(Buffer.from(s.secret, secretIsBase64 ? 'base64' : 'utf8'));
    } else if (s.rsa_public_key !== null) {
      key = createPublicKey(s.rsa_public_key);
    }
  } catch {
    key = null;
  }
  cred.keys[slot] = key;
  return key;
}
