import { z } from 'zod';
import { zHeaderName } from '../../config/units.js';

/**
 * `jwt` config (SPEC §5): Kong's names and defaults, plus `audience`, `issuers` and
 * `clock_skew`. Tokens in the query are ignored unless `uri_param_names` lists a parameter
 * (OAuth 2.1 §5.2: no bearer tokens in URIs).
 */
export const jwtSchema = z
  .strictObject({
    uri_param_names: z.array(z.string().min(1)).default([]).describe('Query parameters a token is read from; empty (default) ignores tokens in the query.'),
    cookie_names: z.array(z.string().min(1)).default([]).describe('Cookies a token is read from.'),
    header_names: z.array(zHeaderName('Authorization')).default(['authorization']).describe('Headers a token is read from, as `Bearer <token>`.'),
    claims_to_verify: z
      .array(z.enum(['exp', 'nbf'], { error: 'expected "exp" or "nbf"' }))
      .default(['exp'])
      .describe('Registered claims that must be present, numeric and currently valid.'),
    key_claim_name: z.string().min(1).default('iss').describe('Claim (payload, then header) naming the credential `key`.'),
    secret_is_base64: z.boolean().default(false).describe('HS* credential secrets are base64-encoded.'),
    maximum_expiration: z
      .number()
      .int()
      .min(0)
      .max(31_536_000)
      .default(0)
      .describe('Largest allowed `exp - now` in seconds; 0 = no limit. Needs `exp` in claims_to_verify.'),
    run_on_preflight: z.boolean().default(true).describe('false: OPTIONS requests pass without a token.'),
    audience: z.string().min(1).optional().describe('When set, the `aud` claim (string or array) of a consumer token must contain it (tollgate\'s own OAuth tokens: docs/oauth.md).'),
    issuers: z.array(z.string().min(1)).default([]).describe('When non-empty, the `iss` claim of a consumer token must be one of these.'),
    clock_skew: z.number().int().min(0).max(3600).default(0).describe('Seconds of leeway for `exp` and `nbf`.'),
  })
  .superRefine((c, ctx) => {
    if (c.maximum_expiration > 0 && !c.claims_to_verify.includes('exp')) {
      ctx.addIssue({ code: 'custom', path: ['claims_to_verify'], message: 'must contain "exp" when maximum_expiration is set' });
    }
    if (c.header_names.length + c.cookie_names.length + c.uri_param_names.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['header_names'], message: 'no place to read a token from: set header_names, cookie_names or uri_param_names' });
    }
  });

export type JwtConfig = z.output<typeof jwtSchema>;
