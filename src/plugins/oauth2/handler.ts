import { definePlugin } from '../../core/plugin.js';
import { UserError } from '../../core/errors.js';
import { buildAuthServer } from '../../oauth/authServer.js';
import { authServerEndpoints } from '../../oauth/endpoints.js';
import { ownTokenAuthority } from '../../oauth/ownTokens.js';
import { UpstreamIdp } from '../../oauth/upstreamIdp.js';
import { JwtAuthenticator } from '../jwt/authenticator.js';
import type { TokenAuthority } from '../jwt/authority.js';
import { notOurToken } from '../jwt/parse.js';
import { checkOAuth2 } from './check.js';
import { oauth2Schema, type OAuth2Config } from './schema.js';

/**
 * `oauth2` (SPEC §6): tollgate as an OAuth 2.1 authorization server (src/oauth) and, on the
 * routes where it is enabled, the authentication of the access tokens it issues. The
 * endpoints (`/oauth2/*`, `/.well-known/*`) are served through the core's plugin-endpoint
 * table, always public; bearer tokens are verified with `gateway.signing_keys`, checked
 * against the revocation list (no I/O) and cached until `exp` (jwt's JwtAuthenticator).
 */

/**
 * A bearer token that is not one of ours: rejected (this plugin accepts only its own tokens),
 * as not ours, so another authentication plugin's reason on the route is what the client hears.
 */
const foreign: TokenAuthority = {
  verify() {
    throw notOurToken('The access token was not issued by this gateway');
  },
  stillValid: () => false,
};

function bearer(header: string | undefined): string | null {
  if (header === undefined || header.length < 8 || header.slice(0, 7).toLowerCase() !== 'bearer ') return null;
  const token = header.slice(7).trim();
  return token === '' ? null : token;
}

export default definePlugin<OAuth2Config>({
  name: 'oauth2',
  version: '1.0.0',
  phase: 'authentication',
  schema: oauth2Schema,
  check: checkOAuth2,
  async create(config, env) {
    const authority = ownTokenAuthority(env, 'oauth2');
    if (authority === null) throw new UserError('the oauth2 plugin needs gateway.issuer and gateway.signing_keys');
    await authority.shared.feed.ready;
    const as = buildAuthServer({
      settings: config,
      issuer: authority.issuer,
      keys: authority.keys,
      store: env.store,
      shared: authority.shared,
      logger: env.logger,
      trustedProxies: env.gateway.trusted_proxies,
    });
    const idp = config.identity_provider ? new UpstreamIdp(config.identity_provider, `${as.base}/oauth2/callback`) : null;
    const authenticator = new JwtAuthenticator((jwt) => (authority.handles(jwt) ? authority : foreign));

    return {
      async authenticate(ctx) {
        const token = bearer(ctx.req.headers.authorization);
        if (token === null) return null;
        const identity = await authenticator.authenticate(token, ctx.req.socket);
        if (config.hide_credentials) delete ctx.upstreamHeaders.authorization;
        return identity;
      },
      endpoints: authServerEndpoints(as, idp),
      // RFC 9728: this gateway is the authorization server of the routes where oauth2 is enabled.
      protectedResource: { authorizationServers: () => [as.issuer], scopes: config.scopes },
      entitiesChanged() {
        authority.clear();
        authenticator.clear();
      },
      close: () => authority.release(),
    };
  },
});
