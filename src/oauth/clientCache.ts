import type { OAuth2Credential, Store } from '../store/types.js';

/** An OAuth client as the request path needs it: the credential and its consumer's username. */
export interface ClientInfo {
  credential: OAuth2Credential;
  consumerUsername: string | null;
}

interface Entry {
  value: ClientInfo | null;
  at: number;
}

const MAX_ENTRIES = 10_000;

/**
 * OAuth clients by `client_id`, cached per replica for `gateway.db_cache_ttl` (absent ones
 * too), dropped on `entitiesChanged`. `get` answers synchronously while an entry is fresh (the
 * hot path of every bearer token); when the store is unreachable a stale entry keeps serving.
 * The OAuth endpoints use `fresh()`: a deleted client is refused there at once.
 */
export class ClientCache {
  readonly #entries = new Map<string, Entry>();

  constructor(
    private readonly store: Store,
    private readonly ttlMs: number,
  ) {}

  get(clientId: string, now = Date.now()): ClientInfo | null | Promise<ClientInfo | null> {
    const hit = this.#entries.get(clientId);
    if (hit !== undefined && now - hit.at < this.ttlMs) return hit.value;
    return this.fresh(clientId).catch((err: unknown) => {
      if (hit !== undefined) return hit.value;
      throw err;
    });
  }

  async fresh(clientId: string): Promise<ClientInfo | null> {
    const credential = await this.store.oauth2Credentials.getByClientId(clientId);
    const consumer = credential === null ? null : await this.store.consumers.get(credential.consumer_id);
    const value = credential === null ? null : { credential, consumerUsername: consumer?.username ?? null };
    if (this.#entries.size >= MAX_ENTRIES) this.#entries.clear();
    this.#entries.set(clientId, { value, at: Date.now() });
    return value;
  }

  clear(): void {
    this.#entries.clear();
  }
}
