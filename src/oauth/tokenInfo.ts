import { compactVerify } from 'jose';
import type { RequestContext } from '../core/context.js';
import type { EndpointResponse } from '../core/plugin.js';
import { requireTls, type AuthServer } from './authServer.js';
import { authenticatedClient } from './clientAuth.js';
import type { ClientInfo } from './clientCache.js';
import { OAuthError, asOAuthError } from './errors.js';
import { json, NO_STORE, oauthErrorResponse, Params } from './http.js';
import { sha256Hex } from './randoms.js';
import { revokeAccessToken, revokeGrant } from './revoke.js';

/**
 * `POST /oauth2/revoke` (RFC 7009) and `POST /oauth2/introspect` (RFC 7662), both
 * client-authenticated. A token is either one of our JWT access tokens (signature and `iss`
 * checked, whatever its expiry) or an opaque refresh token (looked up by hash).
 */

/** The claims of one of our access tokens, signature and issuer verified, expiry not checked. */
async function ownClaims(as: AuthServer, token: string): Promise<Record<string, unknown> | null> {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    const key = typeof header.kid === 'string' ? as.keys.get(header.kid) : undefined;
    if (key === undefined) return null;
    const { payload } = await compactVerify(token, key.publicKey, { algorithms: [key.alg] });
    const claims = JSON.parse(Buffer.from(payload).toString('utf8')) as Record<string, unknown>;
    return claims.iss === as.issuer && typeof claims.jti === 'string' ? claims : null;
  } catch {
    return null;
  }
}

async function revokeToken(as: AuthServer, client: ClientInfo, token: string): Promise<void> {
  const claims = await ownClaims(as, token);
  if (claims !== null) {
    if (claims.client_id === client.credential.client_id) await revokeAccessToken(as.store, as.shared.feed, String(claims.jti));
    return;
  }
  const refresh = await as.store.oauth2Tokens.getRefreshToken(sha256Hex(token));
  const grant = refresh === null ? null : await as.store.oauth2Tokens.getGrant(refresh.grant_id);
  // RFC 7009 §2.1: revoking a refresh token revokes the grant, its access tokens included.
  if (grant !== null && grant.credential_id === client.credential.id) await revokeGrant(as.store, as.shared.feed, grant.id);
}

async function describe(as: AuthServer, token: string): Promise<Record<string, unknown>> {
  const now = Date.now();
  const claims = await ownClaims(as, token);
  if (claims !== null) {
    const row = await as.store.oauth2Tokens.getAccessToken(String(claims.jti));
    const live = row !== null && row.revoked_at === null && row.expires_at > now && !as.shared.feed.list.has(row.jti);
    const client = live ? await as.shared.clients.fresh(row.client_id) : null;
    if (!live || client === null) return { active: false };
    const { iss, sub, aud, exp, iat, jti, scope, client_id } = claims;
    return { active: true, token_type: 'Bearer', scope, client_id, sub, aud, iss, exp, iat, jti };
  }
  const refresh = await as.store.oauth2Tokens.getRefreshToken(sha256Hex(token));
  const grant = refresh === null ? null : await as.store.oauth2Tokens.getGrant(refresh.grant_id);
  if (refresh === null || grant === null || refresh.used_at !== null || grant.revoked_at !== null || (refresh.expires_at !== null && refresh.expires_at <= now)) {
    return { active: false };
  }
  return {
    active: true,
    token_type: 'refresh_token',
    scope: grant.scope.join(' '),
    client_id: grant.client_id,
    sub: grant.authenticated_userid ?? grant.client_id,
    iss: as.issuer,
    iat: Math.floor(refresh.created_at / 1000),
    exp: refresh.expires_at === null ? undefined : Math.floor(refresh.expires_at / 1000),
  };
}

async function authenticated(as: AuthServer, ctx: RequestContext, body: Buffer | null): Promise<{ client: ClientInfo; params: Params }> {
  requireTls(as, ctx);
  const params = Params.of(ctx, body);
  const client = await authenticatedClient(ctx, params, as.shared.clients);
  return { client, params };
}

export async function revokeEndpoint(as: AuthServer, ctx: RequestContext, body: Buffer | null): Promise<EndpointResponse> {
  try {
    const { client, params } = await authenticated(as, ctx, body);
    // Unknown tokens, and tokens of other clients, are answered 200 too (RFC 7009 §2.2): nothing leaks.
    await revokeToken(as, client, params.require('token'));
    return { status: 200, headers: { ...NO_STORE }, body: '' };
  } catch (err) {
    const e = asOAuthError(err);
    if (e === null) throw err;
    return oauthErrorResponse(ctx, e);
  }
}

export async function introspectEndpoint(as: AuthServer, ctx: RequestContext, body: Buffer | null): Promise<EndpointResponse> {
  try {
    const { client, params } = await authenticated(as, ctx, body);
    if (client.credential.client_type !== 'confidential') throw new OAuthError('invalid_client', 'introspection is for confidential clients (resource servers)');
    return json(200, await describe(as, params.require('token')), NO_STORE);
  } catch (err) {
    const e = asOAuthError(err);
    if (e === null) throw err;
    return oauthErrorResponse(ctx, e);
  }
}
