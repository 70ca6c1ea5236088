import type { Kysely, Transaction } from 'kysely';
import { guarded, type RepoContext } from '../guard.js';
import type { Database } from '../tables.js';
import type { OAuth2Grant, OAuth2TokenRepo, RevokedToken, RotateResult, TokenIssue } from '../oauth2Types.js';
import {
  accessTokenFromRow,
  accessTokenToRow,
  codeFromRow,
  codeToRow,
  grantFromRow,
  grantToRow,
  loginStateFromRow,
  refreshTokenFromRow,
} from './oauth2Rows.js';

/**
 * The authorization server's codes, grants and tokens (migration 0002). Single use is
 * enforced by the database: a code or refresh token is consumed by a conditional UPDATE
 * (`… WHERE used_at IS NULL`) inside the transaction that writes what it issues, so of two
 * concurrent redemptions (two replicas, one PostgreSQL) exactly one changes the row; the other
 * waits for the row lock, re-reads `used_at` and changes nothing.
 */

/** Used codes are kept this long past their expiry, so a late replay still revokes its grant. */
const CODE_KEEP_MS = 24 * 3600_000;
/** Expired access tokens (and their revocations) are kept this long (clock skew between replicas). */
const TOKEN_KEEP_MS = 3600_000;

type Db = Kysely<Database> | Transaction<Database>;

/**
 * Writes the tokens of an issue, unless the grant has been revoked meanwhile (false). The grant
 * row is updated first: that takes its row lock, so a revocation running at the same time
 * either commits before (the update then matches nothing: no token is written) or waits for
 * this transaction (and then sees, and revokes, the tokens it wrote). Written the other way
 * round, on PostgreSQL a token inserted before the lock was taken was invisible to the
 * revocation and outlived it.
 */
async function writeIssue(trx: Db, issue: TokenIssue): Promise<boolean> {
  const grant = await trx
    .updateTable('oauth2_grants')
    .set({ expires_at: issue.grantExpiresAt })
    .where('id', '=', issue.access.grant_id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  if (grant.numUpdatedRows !== 1n) return false;
  await trx.insertInto('oauth2_access_tokens').values(accessTokenToRow(issue.access)).execute();
  if (issue.refresh) await trx.insertInto('oauth2_refresh_tokens').values(issue.refresh).execute();
  return true;
}

function live(rows: { jti: string; expires_at: number | string }[], now: number): RevokedToken[] {
  return rows.map((r) => ({ jti: r.jti, expires_at: Number(r.expires_at) })).filter((r) => r.expires_at > now);
}

/** Records live revoked tokens where the replicas' feed reads them (0003: outlives the client). */
async function recordRevocations(trx: Db, revoked: RevokedToken[], now: number): Promise<RevokedToken[]> {
  if (revoked.length === 0) return revoked;
  await trx
    .insertInto('oauth2_revocations')
    .values(revoked.map((r) => ({ jti: r.jti, expires_at: r.expires_at, revoked_at: now })))
    .onConflict((oc) => oc.column('jti').doNothing())
    .execute();
  return revoked;
}

async function revokeGrantIn(trx: Db, grantIds: string[], now: number): Promise<RevokedToken[]> {
  if (grantIds.length === 0) return [];
  await trx.updateTable('oauth2_grants').set({ revoked_at: now }).where('id', 'in', grantIds).where('revoked_at', 'is', null).execute();
  const rows = await trx
    .updateTable('oauth2_access_tokens')
    .set({ revoked_at: now })
    .where('grant_id', 'in', grantIds)
    .where('revoked_at', 'is', null)
    .returning(['jti', 'expires_at'])
    .execute();
  return recordRevocations(trx, live(rows, now), now);
}

export function oauth2TokensRepo(ctx: RepoContext): OAuth2TokenRepo {
  const { db } = ctx;
  const g = <T>(entity: string, run: () => Promise<T>) => guarded(ctx, { entity }, run);
  return {
    createCode: (code) => g('oauth2_code', async () => void (await db.insertInto('oauth2_codes').values(codeToRow(code)).execute())),

    getCode: (hash) =>
      g('oauth2_code', async () => {
        const row = await db.selectFrom('oauth2_codes').selectAll().where('code_hash', '=', hash).executeTakeFirst();
        return row ? codeFromRow(row) : null;
      }),

    redeemCode: (hash, now, grant, issue) =>
      g('oauth2_grant', () =>
        db.transaction().execute(async (trx) => {
          const res = await trx
            .updateTable('oauth2_codes')
            .set({ used_at: now })
            .where('code_hash', '=', hash)
            .where('used_at', 'is', null)
            .where('expires_at', '>', now)
            .executeTakeFirst();
          if (res.numUpdatedRows !== 1n) return false;
          await trx.insertInto('oauth2_grants').values(grantToRow(grant)).execute();
          await writeIssue(trx, issue);
          return true;
        }),
      ),

    createGrant: (grant: OAuth2Grant, issue) =>
      g('oauth2_grant', () =>
        db.transaction().execute(async (trx) => {
          await trx.insertInto('oauth2_grants').values(grantToRow(grant)).execute();
          await writeIssue(trx, issue);
        }),
      ),

    getGrant: (id) =>
      g('oauth2_grant', async () => {
        const row = await db.selectFrom('oauth2_grants').selectAll().where('id', '=', id).executeTakeFirst();
        return row ? grantFromRow(row) : null;
      }),

    getRefreshToken: (hash) =>
      g('oauth2_refresh_token', async () => {
        const row = await db.selectFrom('oauth2_refresh_tokens').selectAll().where('token_hash', '=', hash).executeTakeFirst();
        return row ? refreshTokenFromRow(row) : null;
      }),

    rotateRefreshToken: (hash, now, issue) =>
      g('oauth2_refresh_token', () =>
        db.transaction().execute(async (trx): Promise<RotateResult> => {
          const res = await trx
            .updateTable('oauth2_refresh_tokens')
            .set({ used_at: now })
            .where('token_hash', '=', hash)
            .where('used_at', 'is', null)
            .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
            .where('grant_id', 'in', (eb) => eb.selectFrom('oauth2_grants').select('id').where('revoked_at', 'is', null))
            .executeTakeFirst();
          if (res.numUpdatedRows === 1n) return (await writeIssue(trx, issue)) ? 'rotated' : 'invalid';
          const row = await trx.selectFrom('oauth2_refresh_tokens').select('used_at').where('token_hash', '=', hash).executeTakeFirst();
          return row !== undefined && row.used_at !== null ? 'reused' : 'invalid';
        }),
      ),

    getAccessToken: (jti) =>
      g('oauth2_token', async () => {
        const row = await db.selectFrom('oauth2_access_tokens').selectAll().where('jti', '=', jti).executeTakeFirst();
        return row ? accessTokenFromRow(row) : null;
      }),

    revokeGrant: (grantId, now) => g('oauth2_grant', () => db.transaction().execute((trx) => revokeGrantIn(trx, [grantId], now))),

    revokeGrantsOfCredential: (credentialId, now) =>
      g('oauth2_grant', () =>
        db.transaction().execute(async (trx) => {
          const grants = await trx.selectFrom('oauth2_grants').select('id').where('credential_id', '=', credentialId).execute();
          return revokeGrantIn(
            trx,
            grants.map((r) => r.id),
            now,
          );
        }),
      ),

    revokeAccessToken: (jti, now) =>
      g('oauth2_token', () =>
        db.transaction().execute(async (trx) => {
          const rows = await trx
            .updateTable('oauth2_access_tokens')
            .set({ revoked_at: now })
            .where('jti', '=', jti)
            .where('revoked_at', 'is', null)
            .returning(['jti', 'expires_at'])
            .execute();
          return (await recordRevocations(trx, live(rows, now), now))[0] ?? null;
        }),
      ),

    // Both tables: oauth2_revocations (0003) also holds the tokens of deleted clients; the
    // access-token rows hold revocations written by a replica still on 0002 (a rolling upgrade).
    revokedSince: (since, now) =>
      g('oauth2_token', async () => {
        const revokedIn = (table: 'oauth2_revocations' | 'oauth2_access_tokens') =>
          db.selectFrom(table).select(['jti', 'expires_at']).where('revoked_at', '>=', since).where('expires_at', '>', now).execute();
        const [kept, rows] = await Promise.all([revokedIn('oauth2_revocations'), revokedIn('oauth2_access_tokens')]);
        return [...new Map(live([...kept, ...rows], now).map((r) => [r.jti, r])).values()];
      }),

    purgeExpired: (now) =>
      g('oauth2_token', () =>
        db.transaction().execute(async (trx) => {
          const results = [
            await trx.deleteFrom('oauth2_codes').where('expires_at', '<', now - CODE_KEEP_MS).executeTakeFirst(),
            await trx.deleteFrom('oauth2_login_states').where('expires_at', '<', now).executeTakeFirst(),
            await trx.deleteFrom('oauth2_refresh_tokens').where('expires_at', '<', now).executeTakeFirst(),
            await trx.deleteFrom('oauth2_access_tokens').where('expires_at', '<', now - TOKEN_KEEP_MS).executeTakeFirst(),
            await trx.deleteFrom('oauth2_revocations').where('expires_at', '<', now - TOKEN_KEEP_MS).executeTakeFirst(),
            // A grant goes once its longest-lived token has (its remaining rows cascade).
            await trx.deleteFrom('oauth2_grants').where('expires_at', '<', now - TOKEN_KEEP_MS).executeTakeFirst(),
          ];
          return results.reduce((n, r) => n + Number(r.numDeletedRows), 0);
        }),
      ),

    createLoginState: (state) =>
      g('oauth2_login_state', async () => void (await db.insertInto('oauth2_login_states').values(state).execute())),

    takeLoginState: (hash, now) =>
      g('oauth2_login_state', async () => {
        const rows = await db.deleteFrom('oauth2_login_states').where('state_hash', '=', hash).returningAll().execute();
        const row = rows[0];
        if (row === undefined) return null;
        const state = loginStateFromRow(row);
        return state.expires_at > now ? state : null;
      }),
  };
}
