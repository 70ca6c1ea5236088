import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { storeBackends, wipeStore } from '../../test/helpers/stores.js';
import { createStore } from './index.js';
import type { OAuth2Code, OAuth2Grant, Store, TokenIssue } from './types.js';

/**
 * The OAuth token repository (migration 0002) on SQLite and PostgreSQL: single use of codes
 * and refresh tokens (also when raced), grant revocation, the replicas' revocation list,
 * cascades and housekeeping.
 */

const NOW = 1_900_000_000_000;

describe.each(storeBackends())('oauth2 token store ($name)', (backend) => {
  let store: Store;
  let url: string;
  let credentialId: string;
  const clientId = 'app-1';

  beforeAll(async () => {
    url = await backend.freshUrl();
    store = await createStore(url);
    await store.migrate();
  });
  afterAll(async () => {
    await store?.close();
    backend.cleanup();
  });
  beforeEach(async () => {
    await wipeStore(store);
    const consumer = await store.consumers.create({ username: 'admin', custom_id: null, tags: [] });
    const cred = await store.oauth2Credentials.create({
      consumer_id: consumer.id,
      name: 'My Application',
      client_id: clientId,
      client_secret_hash: null,
      client_type: 'public',
      redirect_uris: ['https://your-app.com/callback'],
      tags: [],
    });
    credentialId = cred.id;
  });

  const code = (over: Partial<OAuth2Code> = {}): OAuth2Code => ({
    code_hash: randomUUID(),
    grant_id: randomUUID(),
    credential_id: credentialId,
    client_id: clientId,
    redirect_uri: 'https://your-app.com/callback',
    scope: ['api.read', 'api.write'],
    authenticated_userid: 'user-1',
    code_challenge: 'x'.repeat(43),
    code_challenge_method: 'S256',
    created_at: NOW,
    expires_at: NOW + 60_000,
    used_at: null,
    ...over,
  });
  const grantOf = (c: OAuth2Code): OAuth2Grant => ({
    id: c.grant_id,
    credential_id: credentialId,
    client_id: clientId,
    authenticated_userid: c.authenticated_userid,
    scope: c.scope,
    grant_type: 'authorization_code',
    created_at: NOW,
    expires_at: null,
    revoked_at: null,
  });
  const issue = (grantId: string, expiresIn = 7200_000, refresh = true): TokenIssue => ({
    access: { jti: randomUUID(), grant_id: grantId, client_id: clientId, subject: 'user-1', scope: ['api.read'], created_at: NOW, expires_at: NOW + expiresIn, revoked_at: null },
    refresh: refresh ? { token_hash: randomUUID(), grant_id: grantId, created_at: NOW, expires_at: NOW + 1_209_600_000, used_at: null } : null,
    grantExpiresAt: NOW + 1_209_600_000,
  });

  it('stores a code and redeems it exactly once, writing its grant and tokens', async () => {
    const c = code();
    await store.oauth2Tokens.createCode(c);
    expect(await store.oauth2Tokens.getCode(c.code_hash)).toEqual(c);
    const first = issue(c.grant_id);
    expect(await store.oauth2Tokens.redeemCode(c.code_hash, NOW + 1, grantOf(c), first)).toBe(true);
    expect(await store.oauth2Tokens.redeemCode(c.code_hash, NOW + 2, grantOf(c), issue(c.grant_id))).toBe(false);
    expect((await store.oauth2Tokens.getCode(c.code_hash))?.used_at).toBe(NOW + 1);
    expect(await store.oauth2Tokens.getGrant(c.grant_id)).toMatchObject({ scope: ['api.read', 'api.write'], expires_at: NOW + 1_209_600_000, revoked_at: null });
    expect(await store.oauth2Tokens.getAccessToken(first.access.jti)).toEqual(first.access);
    expect(await store.oauth2Tokens.getRefreshToken(first.refresh!.token_hash)).toEqual(first.refresh);
  });

  it('of concurrent redemptions of one code exactly one wins', async () => {
    const c = code();
    await store.oauth2Tokens.createCode(c);
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => store.oauth2Tokens.redeemCode(c.code_hash, NOW + 1, grantOf(c), issue(c.grant_id))));
    const wins = results.filter((r) => r.status === 'fulfilled' && r.value);
    expect(wins).toHaveLength(1);
  });

  it('refuses an expired code', async () => {
    const c = code({ expires_at: NOW + 10 });
    await store.oauth2Tokens.createCode(c);
    expect(await store.oauth2Tokens.redeemCode(c.code_hash, NOW + 10, grantOf(c), issue(c.grant_id))).toBe(false);
    expect(await store.oauth2Tokens.getGrant(c.grant_id)).toBeNull();
  });

  it('rotates a refresh token once; a second use is reported as reuse; a revoked grant refuses', async () => {
    const c = code();
    await store.oauth2Tokens.createCode(c);
    const first = issue(c.grant_id);
    await store.oauth2Tokens.redeemCode(c.code_hash, NOW, grantOf(c), first);
    const next = issue(c.grant_id);
    expect(await store.oauth2Tokens.rotateRefreshToken(first.refresh!.token_hash, NOW + 5, next)).toBe('rotated');
    expect(await store.oauth2Tokens.rotateRefreshToken(first.refresh!.token_hash, NOW + 6, issue(c.grant_id))).toBe('reused');
    expect(await store.oauth2Tokens.rotateRefreshToken('unknown', NOW + 6, issue(c.grant_id))).toBe('invalid');
    await store.oauth2Tokens.revokeGrant(c.grant_id, NOW + 7);
    expect(await store.oauth2Tokens.rotateRefreshToken(next.refresh!.token_hash, NOW + 8, issue(c.grant_id))).toBe('invalid');
  });

  it('of concurrent rotations of one refresh token exactly one wins', async () => {
    const c = code();
    await store.oauth2Tokens.createCode(c);
    const first = issue(c.grant_id);
    await store.oauth2Tokens.redeemCode(c.code_hash, NOW, grantOf(c), first);
    const results = await Promise.all(Array.from({ length: 5 }, () => store.oauth2Tokens.rotateRefreshToken(first.refresh!.token_hash, NOW + 1, issue(c.grant_id))));
    expect(results.filter((r) => r === 'rotated')).toHaveLength(1);
    expect(results.filter((r) => r === 'reused')).toHaveLength(4);
  });

  // PostgreSQL only: SQLite runs one write transaction at a time.
  it.runIf(backend.name === 'postgres')('a rotation racing the revocation of its grant issues no token that outlives the revocation', async () => {
    const c = code();
    await store.oauth2Tokens.createCode(c);
    const first = issue(c.grant_id);
    await store.oauth2Tokens.redeemCode(c.code_hash, NOW, grantOf(c), first);
    // The revocation (what revokeGrant runs), held open between its two statements by hand.
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query('UPDATE oauth2_grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [NOW + 2, c.grant_id]);
      const next = issue(c.grant_id);
      const rotating = store.oauth2Tokens.rotateRefreshToken(first.refresh!.token_hash, NOW + 3, next);
      await new Promise((r) => setTimeout(r, 300)); // the rotation is now waiting for the grant's row lock
      await other.query('UPDATE oauth2_access_tokens SET revoked_at = $1 WHERE grant_id = $2 AND revoked_at IS NULL', [NOW + 2, c.grant_id]);
      await other.query('COMMIT');
      expect(await rotating).toBe('invalid');
      const minted = await store.oauth2Tokens.getAccessToken(next.access.jti);
      expect(minted === null || minted.revoked_at !== null).toBe(true);
      expect(await store.oauth2Tokens.getRefreshToken(next.refresh!.token_hash)).toBeNull();
    } finally {
      await other.end();
    }
  });

  it('refuses an expired refresh token', async () => {
    const c = code();
    await store.oauth2Tokens.createCode(c);
    const first = issue(c.grant_id);
    first.refresh!.expires_at = NOW + 100;
    await store.oauth2Tokens.redeemCode(c.code_hash, NOW, grantOf(c), first);
    expect(await store.oauth2Tokens.rotateRefreshToken(first.refresh!.token_hash, NOW + 100, issue(c.grant_id))).toBe('invalid');
  });

  it('revoking a grant revokes its live access tokens and lists them for the replicas', async () => {
    const c = code();
    await store.oauth2Tokens.createCode(c);
    const first = issue(c.grant_id);
    await store.oauth2Tokens.redeemCode(c.code_hash, NOW, grantOf(c), first);
    const second = issue(c.grant_id);
    await store.oauth2Tokens.rotateRefreshToken(first.refresh!.token_hash, NOW + 1, second);
    const revoked = await store.oauth2Tokens.revokeGrant(c.grant_id, NOW + 2);
    expect(revoked.map((r) => r.jti).sort()).toEqual([first.access.jti, second.access.jti].sort());
    expect(revoked[0]!.expires_at).toBe(NOW + 7200_000);
    expect(await store.oauth2Tokens.revokeGrant(c.grant_id, NOW + 3)).toEqual([]);
    expect((await store.oauth2Tokens.getGrant(c.grant_id))?.revoked_at).toBe(NOW + 2);
    expect((await store.oauth2Tokens.revokedSince(NOW + 2, NOW + 3)).map((r) => r.jti).sort()).toEqual(revoked.map((r) => r.jti).sort());
    expect(await store.oauth2Tokens.revokedSince(NOW + 3, NOW + 3)).toEqual([]);
    expect(await store.oauth2Tokens.revokedSince(0, NOW + 7200_000)).toEqual([]);
  });

  it('revokes one access token, once; revokes every grant of a client', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const grantId = randomUUID();
      const t = issue(grantId, 7200_000, false);
      await store.oauth2Tokens.createGrant({ ...grantOf(code({ grant_id: grantId })), grant_type: 'client_credentials', authenticated_userid: null }, t);
      ids.push(t.access.jti);
    }
    expect(await store.oauth2Tokens.revokeAccessToken(ids[0]!, NOW)).toEqual({ jti: ids[0], expires_at: NOW + 7200_000 });
    expect(await store.oauth2Tokens.revokeAccessToken(ids[0]!, NOW)).toBeNull();
    expect(await store.oauth2Tokens.revokeAccessToken('nope', NOW)).toBeNull();
    expect((await store.oauth2Tokens.revokeGrantsOfCredential(credentialId, NOW)).map((r) => r.jti)).toEqual([ids[1]]);
  });

  it('deleting the client deletes its codes, grants and tokens', async () => {
    const c = code();
    await store.oauth2Tokens.createCode(c);
    const first = issue(c.grant_id);
    await store.oauth2Tokens.redeemCode(c.code_hash, NOW, grantOf(c), first);
    await store.oauth2Credentials.delete(credentialId);
    expect(await store.oauth2Tokens.getCode(c.code_hash)).toBeNull();
    expect(await store.oauth2Tokens.getGrant(c.grant_id)).toBeNull();
    expect(await store.oauth2Tokens.getAccessToken(first.access.jti)).toBeNull();
    expect(await store.oauth2Tokens.getRefreshToken(first.refresh!.token_hash)).toBeNull();
  });

  it('the revocations of a deleted client stay listed for the replicas until the tokens expire', async () => {
    const c = code();
    await store.oauth2Tokens.createCode(c);
    const first = issue(c.grant_id);
    await store.oauth2Tokens.redeemCode(c.code_hash, NOW, grantOf(c), first);
    const single = randomUUID();
    const other = issue(single, 7200_000, false);
    await store.oauth2Tokens.createGrant({ ...grantOf(code({ grant_id: single })), grant_type: 'client_credentials', authenticated_userid: null }, other);
    expect(await store.oauth2Tokens.revokeAccessToken(other.access.jti, NOW + 1)).not.toBeNull();
    expect((await store.oauth2Tokens.revokeGrantsOfCredential(credentialId, NOW + 2)).map((r) => r.jti)).toEqual([first.access.jti]);
    await store.oauth2Credentials.delete(credentialId); // its token rows go with it (cascade)
    expect(await store.oauth2Tokens.getAccessToken(first.access.jti)).toBeNull();
    expect((await store.oauth2Tokens.revokedSince(NOW, NOW + 3)).map((r) => r.jti).sort()).toEqual([first.access.jti, other.access.jti].sort());
    // Kept past expiry for clock skew, then purged with the rest.
    expect(await store.oauth2Tokens.revokedSince(NOW, NOW + 7200_000)).toEqual([]);
    await store.oauth2Tokens.purgeExpired(NOW + 7200_000 + 2 * 3600_000);
    expect(await store.oauth2Tokens.revokedSince(0, NOW)).toEqual([]);
  });

  it('login states are single use and expire', async () => {
    const state = { state_hash: 's1', browser_hash: 'b1', request: '{"client_id":"app-1"}', code_verifier: 'v', nonce: 'n', created_at: NOW, expires_at: NOW + 600_000 };
    await store.oauth2Tokens.createLoginState(state);
    expect(await store.oauth2Tokens.takeLoginState('s1', NOW + 1)).toEqual(state);
    expect(await store.oauth2Tokens.takeLoginState('s1', NOW + 1)).toBeNull();
    await store.oauth2Tokens.createLoginState({ ...state, state_hash: 's2' });
    expect(await store.oauth2Tokens.takeLoginState('s2', NOW + 600_000)).toBeNull();
  });

  it('purges what has expired and keeps what is live', async () => {
    const c = code();
    await store.oauth2Tokens.createCode(c);
    const first = issue(c.grant_id, 1000);
    first.refresh!.expires_at = NOW + 2000;
    first.grantExpiresAt = NOW + 2000;
    await store.oauth2Tokens.redeemCode(c.code_hash, NOW, grantOf(c), first);
    const live = code();
    await store.oauth2Tokens.createCode(live);
    expect(await store.oauth2Tokens.purgeExpired(NOW)).toBe(0);
    const later = NOW + 2 * 24 * 3600_000;
    expect(await store.oauth2Tokens.purgeExpired(later)).toBeGreaterThanOrEqual(3);
    expect(await store.oauth2Tokens.getGrant(c.grant_id)).toBeNull();
    expect(await store.oauth2Tokens.getCode(c.code_hash)).toBeNull();
  });
});
