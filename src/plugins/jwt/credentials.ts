import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { StoreCache } from '../../store/storeCache.js';
import { keyProblem } from './keyMaterial.js';
import type { Consumer, JwtSecret, Store } from '../../store/types.js';

/** A `jwt_secrets` credential with its consumer and its key, parsed once. */
export interface ResolvedCredential {
  secret: JwtSecret;
  consumer: Consumer | null;
  /** Lazily parsed verification keys (HS* secrets depend on `secret_is_base64`). */
  keys: { plain?: KeyObject | null; base64?: KeyObject | null };
}

/**
 * Per-replica cache of `jwtSecrets.getByKey` with the credential's consumer (SPEC §5,
 * `gateway.db_cache_ttl`): hits and misses are kept for the TTL, concurrent lookups of one key
 * share one query, `clear()` (stored entities changed) drops everything, and while the store is
 * unreachable an expired hit keeps serving without waiting for it (StoreCache).
 */
export type CredentialCache = StoreCache<ResolvedCredential | null>;

const caches = new WeakMap<Store, CredentialCache>();

/** One cache per store (so per replica), shared by every `jwt` entry; a reload may change the TTL. */
export function credentialCacheFor(store: Store, ttlMs: number): CredentialCache {
  let cache = caches.get(store);
  if (cache === undefined) {
    cache = new StoreCache(store.health, ttlMs, async (key) => {
      const secret = await store.jwtSecrets.getByKey(key);
      if (secret === null) return null;
      return { secret, consumer: await store.consumers.get(secret.consumer_id), keys: {} };
    });
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
    a.consumer?.username === b.consumer?.username &&
    a.consumer?.custom_id === b.consumer?.custom_id
  );
}

/**
 * The credential's verification key as a KeyObject, parsed on first use and kept with the
 * cached credential. null when the stored material cannot be parsed, or is a key the verifier
 * cannot use for the credential's algorithm (stored before validation refused it; logged by the
 * caller).
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
      if (keyProblem(s.algorithm, key) !== null) key = null;
    }
  } catch {
    key = null;
  }
  cred.keys[slot] = key;
  return key;
}
