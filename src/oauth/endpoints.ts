import type { EndpointResponse, PluginEndpoint } from '../core/plugin.js';
import type { GatewayError } from '../core/errors.js';
import type { AuthServer } from './authServer.js';
import { browserAuthorize, loginCallback, provisionAuthorize } from './authorizeEndpoint.js';
import { json, NO_STORE } from './http.js';
import { metadataPaths, serverMetadata } from './metadata.js';
import { tokenEndpoint } from './tokenEndpoint.js';
import { introspectEndpoint, revokeEndpoint } from './tokenInfo.js';
import type { UpstreamIdp } from './upstreamIdp.js';

/** A refusal before the endpoint ran (405, 408, 413), as RFC 6749 §5.2 JSON: what OAuth clients parse. */
const oauthRefusal = (err: GatewayError): EndpointResponse => json(err.status, { error: 'invalid_request', error_description: err.message }, NO_STORE);

/**
 * The authorization server's endpoints on the proxy listeners (SPEC §6), for the core's
 * plugin-endpoint table (src/proxy/endpoints.ts). Always public.
 */
export function authServerEndpoints(as: AuthServer, idp: UpstreamIdp | null): PluginEndpoint[] {
  const metadata = json(200, serverMetadata(as, idp !== null), { 'cache-control': 'public, max-age=300', 'access-control-allow-origin': '*' });
  const endpoints: PluginEndpoint[] = [
    ...metadataPaths(as).map((path): PluginEndpoint => ({ path, methods: ['GET'], handle: () => metadata })),
    {
      path: '/.well-known/jwks.json',
      methods: ['GET'],
      handle: async () => json(200, await as.keys.jwks(), { 'cache-control': 'public, max-age=300', 'access-control-allow-origin': '*' }),
    },
    {
      path: '/oauth2/authorize',
      methods: ['GET', 'POST'],
      noHead: true, // a GET parks a login (and sets its cookie)
      handle: (ctx, body) => (ctx.method === 'POST' ? provisionAuthorize(as, ctx, body) : browserAuthorize(as, idp, ctx, body)),
    },
    { path: '/oauth2/callback', methods: ['GET'], noHead: true, handle: (ctx, body) => loginCallback(as, idp, ctx, body) }, // a GET spends the login
    { path: '/oauth2/token', methods: ['POST'], refusal: oauthRefusal, handle: (ctx, body) => tokenEndpoint(as, ctx, body) },
    { path: '/oauth2/revoke', methods: ['POST'], refusal: oauthRefusal, handle: (ctx, body) => revokeEndpoint(as, ctx, body) },
    { path: '/oauth2/introspect', methods: ['POST'], refusal: oauthRefusal, handle: (ctx, body) => introspectEndpoint(as, ctx, body) },
  ];
  return endpoints;
}
