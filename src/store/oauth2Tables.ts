import type { BigIntOrNull, Millis } from './tables.js';

/** Row shapes of migration 0002 (OAuth codes, grants, tokens, browser logins); see oauth2Types.ts. */

export interface OAuth2GrantsTable {
  id: string;
  credential_id: string;
  client_id: string;
  authenticated_userid: string | null;
  /** JSON array of scope tokens. */
  scope: string;
  grant_type: string;
  created_at: Millis;
  expires_at: BigIntOrNull;
  revoked_at: BigIntOrNull;
}

export interface OAuth2CodesTable {
  code_hash: string;
  grant_id: string;
  credential_id: string;
  client_id: string;
  redirect_uri: string;
  scope: string;
  authenticated_userid: string;
  code_challenge: string | null;
  code_challenge_method: string | null;
  created_at: Millis;
  expires_at: Millis;
  used_at: BigIntOrNull;
}

export interface OAuth2AccessTokensTable {
  jti: string;
  grant_id: string;
  client_id: string;
  subject: string;
  scope: string;
  created_at: Millis;
  expires_at: Millis;
  revoked_at: BigIntOrNull;
}

/** 0003: revoked access tokens, kept until they expire (not cascaded from their client). */
export interface OAuth2RevocationsTable {
  jti: string;
  expires_at: Millis;
  revoked_at: Millis;
}

export interface OAuth2RefreshTokensTable {
  token_hash: string;
  grant_id: string;
  created_at: Millis;
  expires_at: BigIntOrNull;
  used_at: BigIntOrNull;
}

export interface OAuth2LoginStatesTable {
  state_hash: string;
  browser_hash: string;
  request: string;
  code_verifier: string;
  nonce: string;
  created_at: Millis;
  expires_at: Millis;
}
