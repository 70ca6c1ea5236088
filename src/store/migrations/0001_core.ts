import type { Kysely } from 'kysely';

/**
 * Consumers, their JWT and OAuth2 credentials, workspaces and memberships.
 *
 * Portable DDL only (the same statements run on SQLite and PostgreSQL): text ids and enums,
 * JSON text arrays, bigint millisecond times, named unique constraints (so a clash names its
 * column on both dialects), foreign keys with ON DELETE CASCADE.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('consumers')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('username', 'text')
    .addColumn('custom_id', 'text')
    .addColumn('tags', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('consumers_username_key', ['username'])
    .addUniqueConstraint('consumers_custom_id_key', ['custom_id'])
    .execute();

  await db.schema
    .createTable('jwt_secrets')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('consumer_id', 'text', (c) => c.notNull().references('consumers.id').onDelete('cascade'))
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('algorithm', 'text', (c) => c.notNull())
    .addColumn('rsa_public_key', 'text')
    .addColumn('secret', 'text')
    .addColumn('tags', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('jwt_secrets_key_key', ['key'])
    .execute();
  await db.schema.createIndex('jwt_secrets_consumer_id_idx').on('jwt_secrets').column('consumer_id').execute();

  await db.schema
    .createTable('oauth2_credentials')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('consumer_id', 'text', (c) => c.notNull().references('consumers.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('client_secret_hash', 'text')
    .addColumn('client_type', 'text', (c) => c.notNull())
    .addColumn('redirect_uris', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('tags', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('oauth2_credentials_client_id_key', ['client_id'])
    .execute();
  await db.schema.createIndex('oauth2_credentials_consumer_id_idx').on('oauth2_credentials').column('consumer_id').execute();

  await db.schema
    .createTable('workspaces')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('token_budget_day', 'bigint')
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('workspace_members')
    .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('workspace_members_pkey', ['workspace_id', 'user_id'])
    .execute();
  // workspacesOf(user): oldest membership first, one index range scan.
  await db.schema.createIndex('workspace_members_user_idx').on('workspace_members').columns(['user_id', 'created_at']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['workspace_members', 'workspaces', 'oauth2_credentials', 'jwt_secrets', 'consumers']) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
