import { StoreCache } from '../store/storeCache.js';
import type { OAuth2Credential, Store } from '../store/types.js';

/** An OAuth client as the request path needs it: the credential and its consumer's username and custom_id. */
export interface ClientInfo {
  credential: OAuth2Credential;
  consumerUsername: string | null;
  consumerCustomId: string | null;
}

/**
 * OAuth clients by `client_id`, cached per replica for `gateway.db_cache_ttl` (absent ones
 * too), dropped on `entitiesChanged`. `get` answers synchronously while an entry is fresh (the
 * hot path of every bearer token); while the store is unreachable an expired entry keeps
 * serving without waiting for it (StoreCache). The OAuth endpoints use `fresh()`: a deleted
 * client is refused there at once.
 */
export class ClientCache {
  readonly #cache: StoreCache<ClientInfo | null>;

  constructor(store: Store, ttlMs: number) {
    this.#cache = new StoreCache(store.health, ttlMs, async (clientId) => {
      const credential = await store.oauth2Credentials.getByClientId(clientId);
      if (credential === null) return null;
      const consumer = await store.consumers.get(credential.consumer_id);
      return { credential, consumerUsername: consumer?.username ?? null, consumerCustomId: consumer?.custom_id ?? null };
    });
  }

  get(clientId: string, now = Date.now()): ClientInfo | null | Promise<ClientInfo | null> {
    return this.#cache.get(clientId, now);
  }

  fresh(clientId: string): Promise<ClientInfo | null> {
    return this.#cache.fresh(clientId);
  }

  clear(): void {
    this.#cache.clear();
  }
}
