/**
 * What the OAuth 2.1 authorization server (src/oauth) keeps in the store: authorization codes,
 * grants (one authorization and every token issued from it), access and refresh tokens, and
 * the short-lived state of browser logins at the upstream identity provider. Codes and
 * refresh tokens are stored as SHA-256 hashes of their (256-bit random) values, never in
 * clear; access tokens are JWTs and only their `jti` and facts are stored. A revoked access
 * token is a row with `revoked_at` set, kept until the token expires.
 *
 * Times are milliseconds since the epoch; scopes are lists of scope tokens.
 */

export interface OAuth2Code {
  /** SHA-256 (hex) of the code. */
  code_hash: string;
  /** The grant the code becomes when redeemed (known up front, so a replay can revoke it). */
  grant_id: string;
  credential_id: string;
  client_id: string;
  /**
   * The `redirect_uri` the authorization request sent, which a token request that sends one must
   * repeat (and one for a code without PKCE must send); '' when it sent none (the client's only
   * registered URI was used).
   */
  redirect_uri: string;
  scope: string[];
  authenticated_userid: string;
  code_challenge: string | null;
  code_challenge_method: 'S256' | null;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export type OAuth2GrantType = 'authorization_code' | 'client_credentials';

/** One authorization: a redeemed code (and its refresh-token chain) or a client_credentials grant. */
export interface OAuth2Grant {
  id: string;
  credential_id: string;
  client_id: string;
  /** The resource owner (`sub`); null for client_credentials. */
  authenticated_userid: string | null;
  /** The scope granted; refreshed access tokens may narrow it, never widen it. */
  scope: string[];
  grant_type: OAuth2GrantType;
  created_at: number;
  /** When its last token expires (null: a refresh token that never expires). */
  expires_at: number | null;
  revoked_at: number | null;
}

export interface OAuth2AccessToken {
  /** The JWT's `jti`; also the `/oauth2_tokens/{id}` of the Admin API. */
  jti: string;
  grant_id: string;
  client_id: string;
  /** The token's `sub`. */
  subject: string;
  scope: string[];
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
}

export interface OAuth2RefreshToken {
  /** SHA-256 (hex) of the token. */
  token_hash: string;
  grant_id: string;
  created_at: number;
  /** null: never expires (`refresh_token_ttl: 0`). */
  expires_at: number | null;
  /** Set when it was rotated; presenting it again revokes the grant. */
  used_at: number | null;
}

/** What one token request issues, written in the same transaction that consumes its input. */
export interface TokenIssue {
  access: OAuth2AccessToken;
  refresh: OAuth2RefreshToken | null;
  /** The grant's new `expires_at` (its longest-lived token). */
  grantExpiresAt: number | null;
}

/** A revoked access token still inside its lifetime (the replicas' revocation list). */
export interface RevokedToken {
  jti: string;
  expires_at: number;
}

/** The authorization request parked while the user logs in at the identity provider. */
export interface OAuth2LoginState {
  /** SHA-256 (hex) of the `state` sent to the identity provider. */
  state_hash: string;
  /** SHA-256 (hex) of the cookie that binds the login to the browser that started it. */
  browser_hash: string;
  /** The client's authorization request, validated (JSON). */
  request: string;
  /** PKCE verifier and nonce for the identity provider. */
  code_verifier: string;
  nonce: string;
  created_at: number;
  expires_at: number;
}

/** Result of presenting a refresh token for rotation. */
export type RotateResult = 'rotated' | 'reused' | 'invalid';

export interface OAuth2TokenRepo {
  createCode(code: OAuth2Code): Promise<void>;
  getCode(codeHash: string): Promise<OAuth2Code | null>;
  /**
   * Consumes an unused, unexpired code and writes its grant and tokens, in one transaction.
   * False when the code was already used or has expired (nothing written): of two concurrent
   * redemptions exactly one succeeds, on every backend.
   */
  redeemCode(codeHash: string, now: number, grant: OAuth2Grant, issue: TokenIssue): Promise<boolean>;
  /** A grant with its first tokens (client_credentials). */
  createGrant(grant: OAuth2Grant, issue: TokenIssue): Promise<void>;
  getGrant(id: string): Promise<OAuth2Grant | null>;
  getRefreshToken(tokenHash: string): Promise<OAuth2RefreshToken | null>;
  /**
   * Marks the refresh token used and writes its successors, in one transaction, when it is
   * unused, unexpired and its grant is live ('rotated'); 'reused' when it had been used already
   * (the caller revokes the grant); 'invalid' otherwise.
   */
  rotateRefreshToken(tokenHash: string, now: number, issue: TokenIssue): Promise<RotateResult>;
  getAccessToken(jti: string): Promise<OAuth2AccessToken | null>;
  /** Revokes the grant, its refresh tokens and access tokens; returns the access tokens newly revoked (unexpired). */
  revokeGrant(grantId: string, now: number): Promise<RevokedToken[]>;
  /** Revokes every grant of an OAuth client (before its credential is deleted). */
  revokeGrantsOfCredential(credentialId: string, now: number): Promise<RevokedToken[]>;
  /** Revokes one access token; null when unknown or already revoked. */
  revokeAccessToken(jti: string, now: number): Promise<RevokedToken | null>;
  /** Access tokens revoked at or after `since` that have not expired at `now` (replicas' list). */
  revokedSince(since: number, now: number): Promise<RevokedToken[]>;
  /** Deletes expired codes, tokens, grants and login states; returns how many rows went. */
  purgeExpired(now: number): Promise<number>;
  createLoginState(state: OAuth2LoginState): Promise<void>;
  /** Returns and deletes the login state (single use); null when unknown or expired. */
  takeLoginState(stateHash: string, now: number): Promise<OAuth2LoginState | null>;
}
