import { z } from 'zod';
import { zSeconds } from '../../config/units.js';

const url = z.url({ protocol: /^https?$/, error: 'expected an absolute http(s) URL' });

export const JWKS_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

/**
 * `custom-jwt-auth` config: the seed's keys verbatim (`keycloak_base_url`, `keycloak_realm`,
 * `expected_issuer`, `expected_audience`, `cache_ttl`, `ssl_verify`), plus `jwks_uri` or
 * `discovery_url` for any OIDC issuer, `algorithms` and `clock_skew` (SPEC §5).
 */
export const customJwtAuthSchema = z
  .strictObject({
    keycloak_base_url: url.optional().describe('Keycloak root, e.g. https://keycloak.example.com; keys from {base}/realms/{realm}/protocol/openid-connect/certs.'),
    keycloak_realm: z.string().min(1).optional().describe('Keycloak realm (with keycloak_base_url).'),
    expected_issuer: z.string().min(1).optional().describe('Required `iss`; default {keycloak_base_url}/realms/{keycloak_realm}, or the discovery document\'s issuer.'),
    expected_audience: z.string().min(1).optional().describe('When set, `aud` must contain it.'),
    cache_ttl: zSeconds.prefault(3600).describe('Seconds the signing keys are cached, at least 1 (an unknown `kid` refetches sooner, at most once per 30 s).'),
    ssl_verify: z.boolean().default(true).describe('Verify the TLS certificate of the key endpoint (false only for a dev IdP).'),
    jwks_uri: url.optional().describe('JWKS URL of any issuer (wins over discovery_url and Keycloak settings).'),
    discovery_url: url.optional().describe('OpenID discovery document URL (…/.well-known/openid-configuration); gives jwks_uri and issuer.'),
    algorithms: z.array(z.enum(JWKS_ALGORITHMS)).min(1).default(['RS256']).describe('Accepted `alg` values.'),
    clock_skew: z.number().int().min(0).max(3600).default(0).describe('Seconds of leeway for `exp` and `nbf`.'),
  })
  .superRefine((c, ctx) => {
    const keycloak = c.keycloak_base_url !== undefined || c.keycloak_realm !== undefined;
    if (keycloak && (c.keycloak_base_url === undefined || c.keycloak_realm === undefined)) {
      ctx.addIssue({ code: 'custom', path: [c.keycloak_base_url === undefined ? 'keycloak_base_url' : 'keycloak_realm'], message: 'keycloak_base_url and keycloak_realm go together' });
    }
    if (c.jwks_uri === undefined && c.discovery_url === undefined && !keycloak) {
      ctx.addIssue({ code: 'custom', path: ['keycloak_base_url'], message: 'set keycloak_base_url + keycloak_realm, jwks_uri or discovery_url' });
    }
    if (c.expected_issuer === undefined && !keycloak && c.discovery_url === undefined) {
      ctx.addIssue({ code: 'custom', path: ['expected_issuer'], message: 'required with jwks_uri (no Keycloak realm or discovery document to take it from)' });
    }
  });

export type CustomJwtAuthConfig = z.output<typeof customJwtAuthSchema>;

/** Where the keys and the issuer come from, resolved from the config once. */
export function keySource(c: CustomJwtAuthConfig): { jwksUri: string | null; discoveryUrl: string | null; issuer: string | null } {
  const realmUrl = c.keycloak_base_url !== undefined && c.keycloak_realm !== undefined ? `${c.keycloak_base_url.replace(/\/+$/, '')}/realms/${encodeURIComponent(c.keycloak_realm)}` : null;
  if (c.jwks_uri !== undefined) return { jwksUri: c.jwks_uri, discoveryUrl: null, issuer: c.expected_issuer ?? realmUrl };
  if (c.discovery_url !== undefined) return { jwksUri: null, discoveryUrl: c.discovery_url, issuer: c.expected_issuer ?? null };
  return { jwksUri: `${realmUrl}/protocol/openid-connect/certs`, discoveryUrl: null, issuer: c.expected_issuer ?? realmUrl };
}
