import type { Logger } from 'pino';
import type { Store } from '../store/types.js';
import { ClientCache } from './clientCache.js';
import { RevocationFeed } from './revocationFeed.js';

/**
 * Process-wide OAuth state, shared by every plugin entry that needs it (oauth2 entries, and
 * jwt entries accepting tollgate's own tokens) across config reloads: one revocation feed (its
 * Redis connections and store polls) and one client cache. Reference-counted: a reload
 * acquires for the new config before the old one releases, so the feed lives on; the last
 * release (shutdown) closes it.
 */

export interface OAuthSharedDeps {
  store: Store;
  redisUrl: string | undefined;
  logger: Logger;
  /** `gateway.db_cache_ttl`, ms. */
  cacheTtlMs: number;
}

export interface OAuthShared {
  feed: RevocationFeed;
  clients: ClientCache;
  /** Gives this reference back (idempotent). */
  release(): Promise<void>;
}

let current: { feed: RevocationFeed; clients: ClientCache; refs: number } | null = null;

export function acquireOAuthShared(deps: OAuthSharedDeps): OAuthShared {
  current ??= {
    feed: new RevocationFeed({ store: deps.store, redisUrl: deps.redisUrl, logger: deps.logger }),
    clients: new ClientCache(deps.store, deps.cacheTtlMs),
    refs: 0,
  };
  const held = current;
  held.refs++;
  let released = false;
  return {
    feed: held.feed,
    clients: held.clients,
    async release() {
      if (released) return;
      released = true;
      held.refs--;
      if (held.refs === 0) {
        if (current === held) current = null;
        await held.feed.close();
      }
    },
  };
}

/** The live feed of this process, if any entry holds one (the Admin API announces revocations through it). */
export function activeRevocationFeed(): RevocationFeed | null {
  return current?.feed ?? null;
}

/** Drops cached clients (Admin API writes on this replica). */
export function clientsChanged(): void {
  current?.clients.clear();
}
