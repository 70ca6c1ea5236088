import { randomUUID } from 'node:crypto';
import type { AuthServer } from './authServer.js';
import type { ClientInfo } from './clientCache.js';
import { OAuthError } from './errors.js';
import type { Params } from './http.js';
import { isVerifier, verifierMatches } from './pkce.js';
import { sha256Hex } from './randoms.js';
import { revokeGrant } from './revoke.js';
import { grantableScope, parseScope } from './scopes.js';
import { mintTokens, type TokenResponse } from './tokenIssuer.js';

/**
 * The grants of `/oauth2/token` (SPEC §6), for an already authenticated client. Single use of
 * codes and refresh tokens is decided by the store (one transaction per redemption); a second
 * use of either revokes the whole grant, access tokens included (RFC 9700 §2.2.2, §4.14).
 */

function invalidGrant(description: string): OAuthError {
  return new OAuthError('invalid_grant', description);
}

/** PKCE binding of the code (RFC 7636 §4.6; OAuth 2.1 §4.1.3 refuses a verifier without a challenge). */
function checkVerifier(challenge: string | null, verifier: string | null): void {
  if (challenge === null) {
    if (verifier !== null) throw invalidGrant('code_verifier sent, but the authorization request had no code_challenge');
    return;
  }
  if (verifier === null) throw invalidGrant('code_verifier is required: the authorization request had a code_challenge');
  if (!isVerifier(verifier)) throw invalidGrant('code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~]');
  if (!verifierMatches(verifier, challenge)) throw invalidGrant('code_verifier does not match the code_challenge');
}

export async function authorizationCodeGrant(as: AuthServer, client: ClientInfo, params: Params): Promise<TokenResponse> {
  const codeHash = sha256Hex(params.require('code'));
  const code = await as.store.oauth2Tokens.getCode(codeHash);
  if (code === null) throw invalidGrant('unknown authorization code');
  const replay = async () => {
    const revoked = await revokeGrant(as.store, as.shared.feed, code.grant_id);
    as.logger.warn({ client_id: code.client_id, revoked }, 'oauth2: authorization code replayed; the tokens issued from it are revoked');
    return invalidGrant('authorization code already used; the tokens issued from it have been revoked');
  };
  if (code.used_at !== null) throw await replay();
  if (code.expires_at <= Date.now()) throw invalidGrant('authorization code expired');
  if (code.client_id !== client.credential.client_id || code.credential_id !== client.credential.id) throw invalidGrant('authorization code was issued to another client');
  // The code is bound to the redirect URI of its request: a redirect_uri sent here must be that
  // one. RFC 6749 §4.1.3 also wants it repeated whenever the request sent one; the seed's token
  // exchange (PKCE) leaves it out, and PKCE binds the code to its client instance already
  // (OAuth 2.1 §7.5.1), so it is required only for a code issued without PKCE (`pkce: lax`).
  const redirectUri = params.get('redirect_uri');
  if (redirectUri === null) {
    if (code.redirect_uri !== '' && code.code_challenge === null) {
      throw invalidGrant('redirect_uri is required: the authorization request sent one and no code_challenge; send the same value');
    }
  } else if (code.redirect_uri === '' ? !client.credential.redirect_uris.includes(redirectUri) : redirectUri !== code.redirect_uri) {
    throw invalidGrant('redirect_uri differs from the one of the authorization request');
  }
  checkVerifier(code.code_challenge, params.get('code_verifier'));

  const minted = await mintTokens(as, { grantId: code.grant_id, clientId: code.client_id, subject: code.authenticated_userid, scope: code.scope, withRefresh: true });
  const grant = {
    id: code.grant_id,
    credential_id: code.credential_id,
    client_id: code.client_id,
    authenticated_userid: code.authenticated_userid,
    scope: code.scope,
    grant_type: 'authorization_code' as const,
    created_at: Date.now(),
    expires_at: minted.issue.grantExpiresAt,
    revoked_at: null,
  };
  // Lost a race with another redemption of the same code (another replica): a replay too.
  if (!(await as.store.oauth2Tokens.redeemCode(codeHash, Date.now(), grant, minted.issue))) throw await replay();
  return minted.response;
}

export async function refreshTokenGrant(as: AuthServer, client: ClientInfo, params: Params): Promise<TokenResponse> {
  const tokenHash = sha256Hex(params.require('refresh_token'));
  const refresh = await as.store.oauth2Tokens.getRefreshToken(tokenHash);
  const grant = refresh === null ? null : await as.store.oauth2Tokens.getGrant(refresh.grant_id);
  if (refresh === null || grant === null) throw invalidGrant('unknown refresh token');
  if (grant.client_id !== client.credential.client_id || grant.credential_id !== client.credential.id) throw invalidGrant('refresh token was issued to another client');
  const asked = params.get('scope');
  const requested = asked === null ? grant.scope : parseScope(asked);
  const wider = requested.filter((s) => !grant.scope.includes(s));
  if (wider.length > 0) throw new OAuthError('invalid_scope', `scope may only narrow on refresh; not granted: ${wider.join(' ')}`);
  // A scope taken off the plugin's list since the grant is not renewed (RFC 6749 §6 lets the
  // server issue a narrower scope; the response's `scope` says which).
  const scope = requested.filter((s) => as.settings.scopes.includes(s));

  const minted = await mintTokens(as, { grantId: grant.id, clientId: grant.client_id, subject: grant.authenticated_userid ?? grant.client_id, scope, withRefresh: true });
  const outcome = await as.store.oauth2Tokens.rotateRefreshToken(tokenHash, Date.now(), minted.issue);
  if (outcome === 'reused') {
    const revoked = await revokeGrant(as.store, as.shared.feed, grant.id);
    as.logger.warn({ client_id: grant.client_id, revoked }, 'oauth2: refresh token reused; the grant is revoked');
    throw invalidGrant('refresh token already used; the grant has been revoked');
  }
  if (outcome === 'invalid') throw invalidGrant('refresh token expired or revoked');
  return minted.response;
}

export async function clientCredentialsGrant(as: AuthServer, client: ClientInfo, params: Params): Promise<TokenResponse> {
  if (client.credential.client_type !== 'confidential') throw new OAuthError('unauthorized_client', 'client_credentials is for confidential clients only');
  const scope = grantableScope(parseScope(params.get('scope')), as.settings);
  const grantId = randomUUID();
  const clientId = client.credential.client_id;
  // RFC 9068 §2.2: with no resource owner, `sub` is the client.
  const minted = await mintTokens(as, { grantId, clientId, subject: clientId, scope, withRefresh: false });
  await as.store.oauth2Tokens.createGrant(
    {
      id: grantId,
      credential_id: client.credential.id,
      client_id: clientId,
      authenticated_userid: null,
      scope,
      grant_type: 'client_credentials',
      created_at: Date.now(),
      expires_at: minted.issue.grantExpiresAt,
      revoked_at: null,
    },
    minted.issue,
  );
  return minted.response;
}
