import type { RequestContext } from '../core/context.js';
import type { EndpointResponse } from '../core/plugin.js';
import { requireTls, type AuthServer } from './authServer.js';
import { issueCode, resolveClient, responseUri, validateRequest } from './authorizeRequest.js';
import { OAuthError, UnsafeRedirectError, asOAuthError } from './errors.js';
import { StoreUnavailableError } from '../store/errors.js';
import { errorPage, json, NO_STORE, noteError, Params, redirect } from './http.js';
import { finishLogin, startLogin } from './loginFlow.js';
import { safeEqual } from './randoms.js';
import type { UpstreamIdp } from './upstreamIdp.js';

/**
 * `/oauth2/authorize` (SPEC §6):
 * - GET, the browser flow: a valid request sends the user to `identity_provider` to log in
 *   (loginFlow.ts); a bad client or redirect URI gets a 400 page; other errors are redirected
 *   to the client.
 * - POST, Kong's provision-key flow: the application's backend, which authenticated the user
 *   itself, asks for a code for `authenticated_userid` with the plugin's `provision_key`; the
 *   answer is `{"redirect_uri": "…?code=…&state=…&iss=…"}` (200) or, for errors after the client
 *   is known, the same with `error` (400).
 * And `/oauth2/callback`, where the identity provider sends the user back.
 */

export async function browserAuthorize(as: AuthServer, idp: UpstreamIdp | null, ctx: RequestContext, body: Buffer | null): Promise<EndpointResponse> {
  let target;
  let client;
  let params: Params;
  try {
    requireTls(as, ctx);
    params = Params.of(ctx, body);
    if (idp === null) {
      return errorPage(400, 'Browser login is not configured', 'This gateway has no identity_provider: only the provision-key flow (POST /oauth2/authorize) is configured.');
    }
    ({ client, target } = await resolveClient(as, params));
  } catch (err) {
    if (err instanceof OAuthError) return errorPage(400, 'Invalid authorization request', noteError(ctx, err).description);
    if (err instanceof StoreUnavailableError) return storeDownPage(ctx, err); // the client is not known yet: no redirect
    throw err;
  }
  try {
    const req = validateRequest(as, params, client, target);
    return await startLogin(as, idp, ctx, req);
  } catch (err) {
    const e = asOAuthError(err); // a store outage: the client is told temporarily_unavailable
    if (e === null) throw err;
    return redirect(responseUri(as, target, noteError(ctx, e)));
  }
}

/** The browser's page while the store is down and no client can be told (503, HTML like the 400 pages). */
export function storeDownPage(ctx: RequestContext, err: StoreUnavailableError): EndpointResponse {
  ctx.error ??= err.publicMessage ?? 'the store (database) is unreachable';
  return errorPage(503, 'Temporarily unavailable', 'The authorization server cannot reach its store; try again in a moment.');
}

function jsonError(ctx: RequestContext, err: OAuthError): EndpointResponse {
  return json(err.status >= 500 ? err.status : 400, noteError(ctx, err).body(), NO_STORE);
}

export async function provisionAuthorize(as: AuthServer, ctx: RequestContext, body: Buffer | null): Promise<EndpointResponse> {
  let params: Params;
  let resolved;
  let userid: string | null;
  try {
    requireTls(as, ctx);
    params = Params.of(ctx, body);
    const key = as.settings.provision_key;
    if (key === undefined) throw new OAuthError('invalid_request', 'the provision-key flow is not configured (no provision_key in the oauth2 plugin)');
    const given = params.get('provision_key');
    if (given === null || !safeEqual(given, key)) throw new OAuthError('invalid_provision_key', 'Invalid provision_key');
    userid = params.get('authenticated_userid');
    if (userid === null) throw new OAuthError('invalid_authenticated_userid', 'Missing authenticated_userid parameter');
    // It becomes the tokens' sub: OIDC's bound, as the browser flow holds an ID token's sub to.
    if (userid === '' || userid.length > 255) throw new OAuthError('invalid_authenticated_userid', 'authenticated_userid must be 1 to 255 characters');
    resolved = await resolveClient(as, params);
  } catch (err) {
    const e = asOAuthError(err);
    if (e === null) throw err;
    return jsonError(ctx, e);
  }
  const { client, target } = resolved;
  try {
    const req = validateRequest(as, params, client, target);
    const code = await issueCode(as, req, userid);
    return json(200, { redirect_uri: responseUri(as, target, { code }) }, NO_STORE);
  } catch (err) {
    if (err instanceof UnsafeRedirectError || !(err instanceof OAuthError)) throw err;
    return json(400, { redirect_uri: responseUri(as, target, noteError(ctx, err)) }, NO_STORE);
  }
}

export async function loginCallback(as: AuthServer, idp: UpstreamIdp | null, ctx: RequestContext, body: Buffer | null): Promise<EndpointResponse> {
  try {
    requireTls(as, ctx);
    if (idp === null) return errorPage(400, 'Browser login is not configured', 'This gateway has no identity_provider.');
    return await finishLogin(as, idp, ctx, Params.of(ctx, body));
  } catch (err) {
    if (err instanceof OAuthError) return errorPage(400, 'Login failed', noteError(ctx, err).description);
    if (err instanceof StoreUnavailableError) return storeDownPage(ctx, err); // the parked login cannot be read
    throw err;
  }
}
