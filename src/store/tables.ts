import type { ColumnType } from 'kysely';
import type { OAuth2AccessTokensTable, OAuth2CodesTable, OAuth2GrantsTable, OAuth2LoginStatesTable, OAuth2RefreshTokensTable, OAuth2RevocationsTable } from './oauth2Tables.js';

/**
 * Row shapes of the tables as the migrations create them (kysely's `Database` type). Portable
 * across SQLite and PostgreSQL: ids and enums are text, arrays are JSON text, times are bigint
 * milliseconds. pg returns bigint as a string, SQLite as a number: `Millis` admits both on read,
 * and rows.ts turns them into numbers.
 */
export type Millis = ColumnType<number | string, number, number>;
/** A nullable bigint column (a budget override). */
export type BigIntOrNull = ColumnType<number | string | null, number | null, number | null>;

export interface ConsumersTable {
  id: string;
  username: string | null;
  custom_id: string | null;
  /** JSON array of strings. */
  tags: string;
  source: string;
  created_at: Millis;
}

export interface JwtSecretsTable {
  id: string;
  consumer_id: string;
  key: string;
  algorithm: string;
  rsa_public_key: string | null;
  secret: string | null;
  tags: string;
  source: string;
  created_at: Millis;
}

export interface OAuth2CredentialsTable {
  id: string;
  consumer_id: string;
  name: string;
  client_id: string;
  client_secret_hash: string | null;
  client_type: string;
  /** JSON array of strings. */
  redirect_uris: string;
  tags: string;
  source: string;
  created_at: Millis;
}

export interface WorkspacesTable {
  id: string;
  token_budget_day: BigIntOrNull;
  source: string;
  created_at: Millis;
  updated_at: Millis;
}

export interface WorkspaceMembersTable {
  workspace_id: string;
  user_id: string;
  source: string;
  created_at: Millis;
}

export interface Database {
  consumers: ConsumersTable;
  jwt_secrets: JwtSecretsTable;
  oauth2_credentials: OAuth2CredentialsTable;
  workspaces: WorkspacesTable;
  workspace_members: WorkspaceMembersTable;
  // 0002: the OAuth authorization server's state (oauth2Tables.ts)
  oauth2_grants: OAuth2GrantsTable;
  oauth2_codes: OAuth2CodesTable;
  oauth2_access_tokens: OAuth2AccessTokensTable;
  oauth2_refresh_tokens: OAuth2RefreshTokensTable;
  oauth2_login_states: OAuth2LoginStatesTable;
  // 0003
  oauth2_revocations: OAuth2RevocationsTable;
}
