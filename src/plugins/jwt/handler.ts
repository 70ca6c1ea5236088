import { definePlugin } from '../../core/plugin.js';
import { emptyIdentity } from '../../core/context.js';
import { jwtSchema, type JwtConfig } from './schema.js';
import { JwtAuthenticator } from './authenticator.js';
import type { TokenAuthority } from './authority.js';
import type { ClaimRules } from './claims.js';
import { ConsumerCredentialAuthority } from './consumerAuthority.js';
import { credentialCacheFor } from './credentials.js';
import type { ParsedJwt } from './parse.js';
import { findToken, type TokenPlaces } from './tokenSource.js';
import { ownTokenAuthority } from '../../oauth/ownTokens.js';

/**
 * `jwt` (SPEC §5): Kong's JWT plugin — consumers' `jwt_secrets` credentials verify bearer
 * tokens — with `audience`, `issuers` and `clock_skew` added, tokens in the query ignored by
 * default, and verified tokens cached until `exp`.
 */
export default definePlugin<JwtConfig>({
  name: 'jwt',
  version: '1.0.0',
  phase: 'authentication',
  schema: jwtSchema,
  create(config, env) {
    const rules: ClaimRules = {
      required: new Set(config.claims_to_verify),
      maximumExpiration: config.maximum_expiration,
      audience: config.audience ?? null,
      issuers: config.issuers.length > 0 ? new Set(config.issuers) : null,
      skew: config.clock_skew,
    };
    const credentials = credentialCacheFor(env.store, env.gateway.db_cache_ttl);
    const consumers = new ConsumerCredentialAuthority(credentials, {
      keyClaim: config.key_claim_name,
      secretIsBase64: config.secret_is_base64,
      rules,
      logger: env.logger,
    });
    /**
     * Who verifies a token: tollgate's own access tokens (oauth2 plugin; `typ: at+jwt`, `iss` ===
     * `gateway.issuer`, a `kid` of `gateway.signing_keys`) by src/oauth (signature, expiry,
     * revocation list, client still registered; SPEC §5 accepts them on jwt routes), every other
     * token by the consumers' jwt_secrets.
     */
    const own = ownTokenAuthority(env, 'jwt');
    const authorityFor = (jwt: ParsedJwt): TokenAuthority => (own !== null && own.handles(jwt) ? own : consumers);
    const authenticator = new JwtAuthenticator(authorityFor);
    const places: TokenPlaces = { headerNames: config.header_names.map((h) => h.toLowerCase()), cookieNames: config.cookie_names, uriParamNames: config.uri_param_names };
    const skipPreflight = !config.run_on_preflight;
    // RFC 9728: a route reading `Authorization: Bearer` is a protected resource; the only
    // authorization server known is this gateway (its own tokens), when it issues any.
    const ownIssuer = own === null ? [] : [own.issuer];
    const protectedResource = places.headerNames.includes('authorization') ? { authorizationServers: () => ownIssuer } : undefined;

    return {
      authenticate(ctx) {
        if (skipPreflight && ctx.method === 'OPTIONS') return { ...emptyIdentity('jwt'), preflight: true };
        const token = findToken(ctx.req.headers, ctx.query, places, ctx.req.socket);
        return token === null ? null : authenticator.authenticate(token, ctx.req.socket);
      },
      entitiesChanged() {
        credentials.clear();
        authenticator.clear();
        own?.clear();
      },
      close: () => own?.release(),
      protectedResource,
    };
  },
});
