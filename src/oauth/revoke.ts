import type { RevokedToken, Store } from '../store/types.js';
import type { RevocationFeed } from './revocationFeed.js';

/**
 * Revocations, store first, then this replica's list and Redis (RevocationFeed.announce), so
 * a revoked token is refused everywhere before the caller gets its answer. Used by the OAuth
 * endpoints (replay, reuse, RFC 7009) and the Admin API (`DELETE /oauth2_tokens/{id}`, deleting
 * a client). `feed` is null on a replica where no plugin holds one: other replicas then read
 * the revocation from the store within their poll interval.
 */

async function announce(feed: RevocationFeed | null, revoked: RevokedToken[]): Promise<number> {
  if (feed !== null) await feed.announce(revoked);
  return revoked.length;
}

/** Revokes a grant: its refresh tokens and every access token issued from it. */
export async function revokeGrant(store: Store, feed: RevocationFeed | null, grantId: string): Promise<number> {
  return announce(feed, await store.oauth2Tokens.revokeGrant(grantId, Date.now()));
}

export async function revokeAccessToken(store: Store, feed: RevocationFeed | null, jti: string): Promise<boolean> {
  const revoked = await store.oauth2Tokens.revokeAccessToken(jti, Date.now());
  return (await announce(feed, revoked === null ? [] : [revoked])) > 0;
}

/** Revokes everything an OAuth client holds (before its credential is deleted). */
export async function revokeClient(store: Store, feed: RevocationFeed | null, credentialId: string): Promise<number> {
  return announce(feed, await store.oauth2Tokens.revokeGrantsOfCredential(credentialId, Date.now()));
}
