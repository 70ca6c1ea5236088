import { randomUUID } from 'node:crypto';
import type { TokenIssue } from '../store/types.js';
import type { AuthServer } from './authServer.js';
import { signAccessToken } from './ownTokens.js';
import { randomToken, sha256Hex } from './randoms.js';

/**
 * Mints what one token request hands out: an RS256 access token (RFC 9068) and, for
 * authorization-code grants, a new opaque refresh token (256 bits, stored as its SHA-256).
 */

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token?: string;
  scope: string;
}

export interface Minted {
  issue: TokenIssue;
  response: TokenResponse;
}

export async function mintTokens(
  as: AuthServer,
  p: { grantId: string; clientId: string; subject: string; scope: string[]; withRefresh: boolean },
): Promise<Minted> {
  const now = Date.now();
  const iat = Math.floor(now / 1000);
  const ttl = as.settings.token_expiration;
  const jti = randomUUID();
  const scope = p.scope.join(' ');
  const accessToken = await signAccessToken(as.keys, {
    iss: as.issuer,
    sub: p.subject,
    aud: as.issuer,
    client_id: p.clientId,
    iat,
    exp: iat + ttl,
    jti,
    scope,
  });
  const accessExpires = (iat + ttl) * 1000;
  const refreshTtl = as.settings.refresh_token_ttl;
  const refreshToken = p.withRefresh ? randomToken() : null;
  const refreshExpires = refreshToken === null ? null : refreshTtl === 0 ? null : now + refreshTtl * 1000;
  const issue: TokenIssue = {
    access: { jti, grant_id: p.grantId, client_id: p.clientId, subject: p.subject, scope: p.scope, created_at: now, expires_at: accessExpires, revoked_at: null },
    refresh: refreshToken === null ? null : { token_hash: sha256Hex(refreshToken), grant_id: p.grantId, created_at: now, expires_at: refreshExpires, used_at: null },
    grantExpiresAt: refreshToken === null ? accessExpires : refreshExpires === null ? null : Math.max(refreshExpires, accessExpires),
  };
  const response: TokenResponse = { access_token: accessToken, token_type: 'Bearer', expires_in: ttl, scope };
  if (refreshToken !== null) response.refresh_token = refreshToken;
  return { issue, response };
}
