import { randomUUID } from 'node:crypto';
import type { AuthServer } from './authServer.js';
import type { ClientInfo } from './clientCache.js';
import { OAuthError, UnsafeRedirectError } from './errors.js';
import { withParams, type Params } from './http.js';
import { isS256Challenge } from './pkce.js';
import { randomToken, sha256Hex } from './randoms.js';
import { grantableScope, parseScope } from './scopes.js';

/**
 * The authorization request (RFC 6749 §4.1.1 + PKCE, as OAuth 2.1 and RFC 9700 have it),
 * shared by the browser flow (GET) and the provision-key flow (POST). Validation runs in two
 * steps because their errors go to different places: a bad client or redirect URI is answered
 * by tollgate itself (never a redirect to an unverified URI); every later error is sent to the
 * client's redirect URI with `error`, `error_description`, `state` and `iss`.
 */

export interface AuthorizationRequest {
  clientId: string;
  credentialId: string;
  redirectUri: string;
  /**
   * The client sent `redirect_uri` (else it is the client's only registered one): a token
   * request for the code must then repeat it when it sends one, and send it when the code has
   * no PKCE challenge (grants.ts). Absent in login states parked by an earlier version: taken
   * as not sent.
   */
  redirectUriGiven?: boolean;
  scope: string[];
  state: string | null;
  codeChallenge: string | null;
  codeChallengeMethod: 'S256' | null;
}

/** Where errors of this request may be redirected. */
export interface RedirectTarget {
  redirectUri: string;
  /** The client sent it (see AuthorizationRequest.redirectUriGiven). */
  redirectUriGiven?: boolean;
  state: string | null;
}

const MAX_STATE = 2048;

/** Step 1: the client and its redirect URI (exact string match). Throws UnsafeRedirectError. */
export async function resolveClient(as: AuthServer, params: Params): Promise<{ client: ClientInfo; target: RedirectTarget }> {
  const clientId = params.get('client_id');
  if (clientId === null) throw new UnsafeRedirectError('invalid_request', 'missing parameter client_id');
  const client = await as.shared.clients.fresh(clientId);
  if (client === null) throw new UnsafeRedirectError('invalid_client', `unknown client_id '${clientId}'`);
  const registered = client.credential.redirect_uris;
  const given = params.get('redirect_uri');
  let redirectUri: string;
  if (given === null) {
    if (registered.length !== 1) throw new UnsafeRedirectError('invalid_request', 'redirect_uri is required: this client has several registered redirect URIs');
    redirectUri = registered[0]!;
  } else {
    if (!registered.includes(given)) throw new UnsafeRedirectError('invalid_request', 'redirect_uri is not registered for this client (exact match required)');
    redirectUri = given;
  }
  const state = params.get('state');
  return { client, target: { redirectUri, redirectUriGiven: given !== null, state: state !== null && state.length <= MAX_STATE ? state : null } };
}

function pkceOf(as: AuthServer, params: Params, client: ClientInfo): Pick<AuthorizationRequest, 'codeChallenge' | 'codeChallengeMethod'> {
  const challenge = params.get('code_challenge');
  const method = params.get('code_challenge_method');
  if (challenge === null) {
    if (method !== null) throw new OAuthError('invalid_request', 'code_challenge_method without code_challenge');
    const required = as.settings.pkce === 'strict' || client.credential.client_type === 'public';
    if (required) throw new OAuthError('invalid_request', 'code_challenge is required (PKCE with code_challenge_method=S256)');
    return { codeChallenge: null, codeChallengeMethod: null };
  }
  if (method === null) throw new OAuthError('invalid_request', 'code_challenge_method is required and must be S256 (plain is not allowed)');
  if (method !== 'S256') throw new OAuthError('invalid_request', `code_challenge_method '${method}' is not allowed; use S256`);
  if (!isS256Challenge(challenge)) throw new OAuthError('invalid_request', 'code_challenge must be the 43-character base64url SHA-256 of the code_verifier');
  return { codeChallenge: challenge, codeChallengeMethod: 'S256' };
}

/** Step 2: everything else. Throws OAuthError, to be redirected to `target`. */
export function validateRequest(as: AuthServer, params: Params, client: ClientInfo, target: RedirectTarget): AuthorizationRequest {
  const state = params.get('state');
  if (state !== null && state.length > MAX_STATE) throw new OAuthError('invalid_request', `state is longer than ${MAX_STATE} characters`);
  const responseType = params.get('response_type');
  if (responseType === null) throw new OAuthError('invalid_request', 'missing parameter response_type');
  if (responseType !== 'code') throw new OAuthError('unsupported_response_type', `response_type '${responseType}' is not supported; use code`);
  if (!as.settings.enable_authorization_code) throw new OAuthError('unauthorized_client', 'the authorization code grant is disabled (enable_authorization_code: false)');
  const scope = grantableScope(parseScope(params.get('scope')), as.settings);
  return {
    clientId: client.credential.client_id,
    credentialId: client.credential.id,
    redirectUri: target.redirectUri,
    redirectUriGiven: target.redirectUriGiven === true,
    scope,
    state,
    ...pkceOf(as, params, client),
  };
}

/** Issues a code for the request and the authenticated user; returns the code (stored hashed). */
export async function issueCode(as: AuthServer, req: AuthorizationRequest, authenticatedUserid: string): Promise<string> {
  const code = randomToken();
  const now = Date.now();
  await as.store.oauth2Tokens.createCode({
    code_hash: sha256Hex(code),
    grant_id: randomUUID(),
    credential_id: req.credentialId,
    client_id: req.clientId,
    redirect_uri: req.redirectUriGiven === true ? req.redirectUri : '',
    scope: req.scope,
    authenticated_userid: authenticatedUserid,
    code_challenge: req.codeChallenge,
    code_challenge_method: req.codeChallengeMethod,
    created_at: now,
    expires_at: now + as.settings.code_ttl * 1000,
    used_at: null,
  });
  return code;
}

/** The client's redirect URI with a code or an error, plus `state` and `iss` (RFC 9207). */
export function responseUri(as: AuthServer, target: RedirectTarget, result: { code: string } | OAuthError): string {
  const params: Record<string, string> = result instanceof OAuthError ? { error: result.error, error_description: result.body().error_description } : { code: result.code };
  return withParams(target.redirectUri, { ...params, state: target.state, iss: as.issuer });
}
