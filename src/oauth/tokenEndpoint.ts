import type { RequestContext } from '../core/context.js';
import type { EndpointResponse } from '../core/plugin.js';
import { requireTls, type AuthServer } from './authServer.js';
import { authenticatedClient } from './clientAuth.js';
import { OAuthError, asOAuthError } from './errors.js';
import { authorizationCodeGrant, clientCredentialsGrant, refreshTokenGrant } from './grants.js';
import { json, NO_STORE, oauthErrorResponse, Params } from './http.js';

/**
 * `POST /oauth2/token`: grant type, then client authentication, then the grant. Answers
 * `{"access_token","token_type":"Bearer","expires_in","refresh_token","scope"}` or an RFC 6749
 * §5.2 error, always with `Cache-Control: no-store`.
 */

// Maps, not object literals: a client's grant_type ('__proto__', 'constructor') is only ever a key.
const REMOVED = new Map([
  ['password', 'the password grant was removed by OAuth 2.1'],
  ['implicit', 'the implicit grant was removed by OAuth 2.1'],
]);

function enabledGrant(as: AuthServer, grantType: string): void {
  const removed = REMOVED.get(grantType);
  if (removed !== undefined) throw new OAuthError('unsupported_grant_type', removed);
  const enabled =
    grantType === 'authorization_code' || grantType === 'refresh_token' ? as.settings.enable_authorization_code : grantType === 'client_credentials' ? as.settings.enable_client_credentials : undefined;
  if (enabled !== true) {
    throw new OAuthError('unsupported_grant_type', enabled === false ? `grant_type '${grantType}' is disabled on this gateway` : `grant_type '${grantType}' is not supported`);
  }
}

export async function tokenEndpoint(as: AuthServer, ctx: RequestContext, body: Buffer | null): Promise<EndpointResponse> {
  try {
    requireTls(as, ctx);
    const params = Params.of(ctx, body);
    const grantType = params.require('grant_type');
    enabledGrant(as, grantType);
    const client = await authenticatedClient(ctx, params, as.shared.clients);
    const run = grantType === 'authorization_code' ? authorizationCodeGrant : grantType === 'refresh_token' ? refreshTokenGrant : clientCredentialsGrant;
    return json(200, await run(as, client, params), NO_STORE);
  } catch (err) {
    const e = asOAuthError(err);
    if (e === null) throw err;
    return oauthErrorResponse(ctx, e);
  }
}
