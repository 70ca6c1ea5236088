import { z } from 'zod';
import { zSeconds } from '../../config/units.js';

/**
 * `custom-auth-pre-function` config: the seed's keys (`auth_service_url`,
 * `auth_service_timeout`, `ssl_verify`, `retry_count`) plus `method`, `cache_ttl` and
 * `circuit_breaker` (SPEC §5). Durations are seconds (or `500ms`, `2m`).
 */
export const customAuthSchema = z.strictObject({
  auth_service_url: z.url({ protocol: /^https?$/, error: 'expected an absolute http(s) URL such as http://auth-service:8003/auth/verify' }).describe('The auth service endpoint.'),
  auth_service_timeout: zSeconds.prefault(10).describe('Seconds an attempt may wait to connect, for the headers, or between body bytes (the whole call is cut at timeout × (retry_count + 1) + retry_count s); a timeout counts as a failure and is retried.'),
  ssl_verify: z.boolean().default(true).describe('Verify the auth service TLS certificate.'),
  retry_count: z.number().int().min(0).max(10).default(0).describe('Retries after a timeout, connection error or 5xx; then 503.'),
  method: z.enum(['POST', 'GET']).default('POST').describe('POST sends a JSON body {method, path, headers}; GET sends headers only.'),
  cache_ttl: zSeconds.prefault(0).describe('Seconds a decision (allow or deny) is reused for the same Authorization header, method and path; 0 = never.'),
  circuit_breaker: z
    .strictObject({
      failure_threshold: z.number().int().min(1).max(1000).default(5).describe('Consecutive failed requests that open the breaker.'),
      reset_timeout: zSeconds.prefault(30).describe('Seconds the breaker stays open before one trial request.'),
    })
    .prefault({})
    .describe('While open, requests get 503 at once without calling the auth service.'),
});

export type CustomAuthConfig = z.output<typeof customAuthSchema>;
