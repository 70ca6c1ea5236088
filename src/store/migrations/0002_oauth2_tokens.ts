import type { Kysely } from 'kysely';

/**
 * The OAuth 2.1 authorization server's state (src/oauth): authorization codes, grants, access
 * and refresh tokens, and parked browser logins. Codes and refresh tokens are stored as
 * SHA-256 hashes only. Everything an OAuth client owns goes when its credential (or consumer)
 * is deleted (ON DELETE CASCADE). Portable DDL, as 0001.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('oauth2_grants')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('credential_id', 'text', (c) => c.notNull().references('oauth2_credentials.id').onDelete('cascade'))
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('authenticated_userid', 'text')
    .addColumn('scope', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('grant_type', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint')
    .addColumn('revoked_at', 'bigint')
    .execute();
  await db.schema.createIndex('oauth2_grants_credential_id_idx').on('oauth2_grants').column('credential_id').execute();

  await db.schema
    .createTable('oauth2_codes')
    .addColumn('code_hash', 'text', (c) => c.primaryKey())
    .addColumn('grant_id', 'text', (c) => c.notNull())
    .addColumn('credential_id', 'text', (c) => c.notNull().references('oauth2_credentials.id').onDelete('cascade'))
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('redirect_uri', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('authenticated_userid', 'text', (c) => c.notNull())
    .addColumn('code_challenge', 'text')
    .addColumn('code_challenge_method', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .execute();
  await db.schema.createIndex('oauth2_codes_credential_id_idx').on('oauth2_codes').column('credential_id').execute();

  await db.schema
    .createTable('oauth2_access_tokens')
    .addColumn('jti', 'text', (c) => c.primaryKey())
    .addColumn('grant_id', 'text', (c) => c.notNull().references('oauth2_grants.id').onDelete('cascade'))
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint')
    .execute();
  await db.schema.createIndex('oauth2_access_tokens_grant_id_idx').on('oauth2_access_tokens').column('grant_id').execute();
  // revokedSince(): every replica polls for recent revocations with one range scan.
  await db.schema.createIndex('oauth2_access_tokens_revoked_at_idx').on('oauth2_access_tokens').column('revoked_at').execute();

  await db.schema
    .createTable('oauth2_refresh_tokens')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('grant_id', 'text', (c) => c.notNull().references('oauth2_grants.id').onDelete('cascade'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint')
    .addColumn('used_at', 'bigint')
    .execute();
  await db.schema.createIndex('oauth2_refresh_tokens_grant_id_idx').on('oauth2_refresh_tokens').column('grant_id').execute();

  await db.schema
    .createTable('oauth2_login_states')
    .addColumn('state_hash', 'text', (c) => c.primaryKey())
    .addColumn('browser_hash', 'text', (c) => c.notNull())
    .addColumn('request', 'text', (c) => c.notNull())
    .addColumn('code_verifier', 'text', (c) => c.notNull())
    .addColumn('nonce', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['oauth2_login_states', 'oauth2_refresh_tokens', 'oauth2_access_tokens', 'oauth2_codes', 'oauth2_grants']) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
