import { definePlugin } from '../../core/plugin.js';
import { customJwtAuthSchema, keySource, type CustomJwtAuthConfig } from './schema.js';
import { JwtAuthenticator } from '../jwt/authenticator.js';
import { bearerToken } from '../jwt/tokenSource.js';
import { JwksAuthority } from './authority.js';
import { jwksDispatcher, RemoteKeySet } from './jwks.js';

/**
 * `custom-jwt-auth` (seed 004, done properly): bearer tokens of a Keycloak realm (or any OIDC
 * issuer) verified against its JWKS, with Keycloak's claims mapped to the identity headers.
 */
export default definePlugin<CustomJwtAuthConfig>({
  name: 'custom-jwt-auth',
  version: '1.0.0',
  phase: 'authentication',
  schema: customJwtAuthSchema,
  create(config, env) {
    const source = keySource(config);
    const algorithms = new Set<string>(config.algorithms);
    const keys = new RemoteKeySet({
      jwksUri: source.jwksUri,
      discoveryUrl: source.discoveryUrl,
      ttlMs: config.cache_ttl,
      algorithms,
      dispatcher: jwksDispatcher(config.ssl_verify),
      logger: env.logger,
    });
    const authority = new JwksAuthority(keys, {
      issuer: source.issuer,
      algorithms,
      rules: { required: new Set(['exp']), maximumExpiration: 0, audience: config.expected_audience ?? null, issuers: null, skew: config.clock_skew },
    });
    const authenticator = new JwtAuthenticator(() => authority);
    void keys.refresh(); // warm the key cache so the first request does not wait for it

    return {
      authenticate(ctx) {
        const token = bearerToken(ctx.req.headers.authorization, ctx.req.socket);
        return token === null ? null : authenticator.authenticate(token, ctx.req.socket);
      },
      // RFC 9728: the issuer is known from the config, or once the discovery document is read.
      protectedResource: {
        authorizationServers() {
          const issuer = source.issuer ?? keys.issuer;
          return issuer === null ? [] : [issuer];
        },
      },
    };
  },
});
