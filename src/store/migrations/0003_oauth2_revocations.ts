import type { Kysely } from 'kysely';

/**
 * Revoked access tokens in a table of their own, which deleting an OAuth client (or its
 * consumer) does not cascade into: every replica's revocation feed polls it, so the tokens of a
 * deleted client are refused at once on every replica too, not only once its credential cache
 * expires (their rows in oauth2_access_tokens go with the client). Rows go once the token has
 * expired (purgeExpired). Portable DDL, as 0001.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('oauth2_revocations')
    .addColumn('jti', 'text', (c) => c.primaryKey())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('oauth2_revocations_revoked_at_idx').on('oauth2_revocations').column('revoked_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('oauth2_revocations').execute();
}
