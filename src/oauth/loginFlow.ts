import type { RequestContext } from '../core/context.js';
import type { EndpointResponse } from '../core/plugin.js';
import type { AuthServer } from './authServer.js';
import { issueCode, responseUri, type AuthorizationRequest } from './authorizeRequest.js';
import { OAuthError, asOAuthError } from './errors.js';
import { errorPage, noteError, redirect, type Params } from './http.js';
import { s256 } from './pkce.js';
import { randomToken, sha256Hex } from './randoms.js';
import type { UpstreamIdp } from './upstreamIdp.js';

/**
 * The browser flow's round trip through the identity provider. `startLogin` parks the
 * validated authorization request in the store (keyed by the hash of the `state` sent to the
 * provider, so any replica can finish it) and binds it to the browser with an HttpOnly cookie;
 * `finishLogin` (GET /oauth2/callback) takes it back (single use), checks the cookie, redeems
 * the provider's code, verifies its ID token and gives the client a code for its `sub`.
 */

const COOKIE_PREFIX = 'tollgate_oauth2_login_';
const LOGIN_TTL_MS = 10 * 60_000;
const COOKIE_VALUE = /^[A-Za-z0-9_-]{43}$/;

/**
 * Each login binds the browser with a cookie of its own, named after its `state`: two logins
 * in two tabs of one browser do not overwrite each other's binding, and finishing one leaves
 * the other's in place. (The cookie is scoped to the callback's path, so the authorize request
 * never sees an earlier one to share.)
 */
function cookieName(state: string): string {
  return `${COOKIE_PREFIX}${sha256Hex(state).slice(0, 16)}`;
}

function cookieOf(ctx: RequestContext, name: string): string | null {
  const header = ctx.req.headers.cookie;
  if (header === undefined) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      const v = part.slice(eq + 1).trim();
      return COOKIE_VALUE.test(v) ? v : null;
    }
  }
  return null;
}

/**
 * The cookie's path is the callback's as the browser sees it: under the issuer's path when it
 * has one (`https://example.com/auth` → `/auth/oauth2/callback`, the proxy in front stripping
 * `/auth`), or the browser would not send it back to the callback.
 */
function setCookie(as: AuthServer, name: string, value: string, maxAgeS: number): string {
  const path = `${new URL(as.base).pathname.replace(/\/+$/, '')}/oauth2/callback`;
  return `${name}=${value}; Path=${path}; HttpOnly; SameSite=Lax; Max-Age=${maxAgeS}${as.tlsRequired ? '; Secure' : ''}`;
}

export async function startLogin(as: AuthServer, idp: UpstreamIdp, ctx: RequestContext, req: AuthorizationRequest): Promise<EndpointResponse> {
  const state = randomToken();
  const nonce = randomToken();
  const verifier = randomToken();
  const browser = randomToken();
  const location = await idp.authorizationUrl({ state, nonce, challenge: s256(verifier) });
  const now = Date.now();
  await as.store.oauth2Tokens.createLoginState({
    state_hash: sha256Hex(state),
    browser_hash: sha256Hex(browser),
    request: JSON.stringify(req),
    code_verifier: verifier,
    nonce,
    created_at: now,
    expires_at: now + LOGIN_TTL_MS,
  });
  return redirect(location, { 'set-cookie': setCookie(as, cookieName(state), browser, LOGIN_TTL_MS / 1000) });
}

function idpError(error: string): OAuthError {
  if (error === 'temporarily_unavailable') return new OAuthError('temporarily_unavailable', 'the identity provider is temporarily unavailable');
  return new OAuthError('access_denied', `the identity provider did not log the user in (${error})`);
}

export async function finishLogin(as: AuthServer, idp: UpstreamIdp, ctx: RequestContext, params: Params): Promise<EndpointResponse> {
  const state = params.get('state');
  if (state === null) return errorPage(400, 'Login failed', 'The identity provider answered without state; start the login again from the application.');
  const login = await as.store.oauth2Tokens.takeLoginState(sha256Hex(state), Date.now());
  if (login === null) return errorPage(400, 'Login expired', 'This login is unknown or has expired; start it again from the application.');
  const name = cookieName(state);
  const browser = cookieOf(ctx, name);
  if (browser === null || sha256Hex(browser) !== login.browser_hash) {
    return errorPage(400, 'Login failed', 'This login was started in another browser (or cookies are blocked); start it again from the application.');
  }
  const req = JSON.parse(login.request) as AuthorizationRequest;
  const client = await as.shared.clients.fresh(req.clientId);
  if (client === null || client.credential.id !== req.credentialId) return errorPage(400, 'Unknown client', 'The application that started this login no longer exists.');
  const target = { redirectUri: req.redirectUri, state: req.state };
  const clearCookie = { 'set-cookie': setCookie(as, name, '', 0) };
  try {
    const error = params.get('error');
    if (error !== null) throw idpError(error);
    await idp.checkIss(params.get('iss'));
    const sub = await idp.userOf(params.require('code'), login.code_verifier, login.nonce);
    const code = await issueCode(as, req, sub);
    return redirect(responseUri(as, target, { code }), clearCookie);
  } catch (caught) {
    const err = asOAuthError(caught); // a store outage (the code not written): temporarily_unavailable
    if (err === null) throw caught;
    if (err.cause !== undefined) as.logger.warn({ err: err.cause, client_id: req.clientId }, `oauth2: login at the identity provider failed: ${err.description}`);
    return redirect(responseUri(as, target, noteError(ctx, err)), clearCookie);
  }
}
