import { z } from 'zod';

/**
 * `oauth2` plugin config (SPEC §6): Kong's names, plus `identity_provider` and `code_ttl`.
 * Durations are seconds, as in Kong. The grants OAuth 2.1 removed are refused by the plugin's
 * check (check.ts) with a message saying why, rather than by a bare enum error.
 */

const scopeToken = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'a scope is one token of printable characters without spaces, quotes or backslashes');

export const identityProviderSchema = z
  .strictObject({
    issuer: z.url({ protocol: /^https?$/, error: 'expected the identity provider issuer URL, e.g. https://keycloak.example.com/realms/kong' }).describe('OIDC issuer; its `/.well-known/openid-configuration` is read on first use.'),
    client_id: z.string().min(1).describe('tollgate\'s client id at the identity provider.'),
    client_secret: z.string().min(1).optional().describe('tollgate\'s client secret there (omit for a public client; PKCE is always used).'),
    scopes: z.array(scopeToken).default(['openid']).describe('Scopes asked of the identity provider (`openid` is always included).'),
  })
  .describe('Upstream OIDC provider where users log in during the browser flow (GET /oauth2/authorize).');

export const oauth2Schema = z.strictObject({
  scopes: z.array(scopeToken).default([]).describe('Scopes clients may request; empty = none (a request naming a scope gets invalid_scope), as in Kong.'),
  mandatory_scope: z.boolean().default(false).describe('An authorization request must name at least one scope.'),
  provision_key: z.string().min(8, 'use a provision_key of at least 8 characters (a random one: openssl rand -hex 32)').optional().describe('Secret of the provision-key flow (POST /oauth2/authorize); omitted = that flow is off.'),
  token_expiration: z.number().int().min(1).max(31_536_000).default(7200).describe('Access token lifetime, seconds.'),
  refresh_token_ttl: z.number().int().min(0).max(315_360_000).default(1_209_600).describe('Refresh token lifetime, seconds (each rotation starts a new one); 0 = never expires.'),
  enable_authorization_code: z.boolean().default(true).describe('Allow the authorization code grant (with PKCE).'),
  enable_client_credentials: z.boolean().default(false).describe('Allow the client_credentials grant (confidential clients only).'),
  enable_implicit_grant: z.boolean().default(false).describe('Refused when true: OAuth 2.1 removed the implicit grant.'),
  enable_password_grant: z.boolean().default(false).describe('Refused when true: OAuth 2.1 removed the password grant.'),
  pkce: z.enum(['strict', 'lax', 'none']).default('strict').describe('`strict`: every client sends an S256 code_challenge; `lax`: public clients only; `none` is refused.'),
  global_credentials: z.boolean().default(false).describe('Accepted for Kong compatibility: tollgate has one authorization server, so its tokens are valid on every oauth2 route.'),
  hide_credentials: z.boolean().default(false).describe('Remove the Authorization header before proxying an accepted request.'),
  accept_http_if_already_terminated: z.boolean().default(false).describe('With an https issuer: accept plain-HTTP requests to the OAuth endpoints when a trusted proxy says X-Forwarded-Proto: https.'),
  identity_provider: identityProviderSchema.optional(),
  code_ttl: z.number().int().min(1).max(600, 'an authorization code lives at most 600 s').default(60).describe('Authorization code lifetime, seconds.'),
});

export type OAuth2Config = z.output<typeof oauth2Schema>;
export type IdentityProviderConfig = z.output<typeof identityProviderSchema>;
