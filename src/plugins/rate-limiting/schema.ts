import { z } from 'zod';
import { zHeaderName } from '../../config/units.js';

/**
 * `rate-limiting` config (SPEC §7): Kong's names and defaults, plus `limit_by: user|workspace`
 * and `window_type`. Kong's `cluster` policy and `redis_*` settings do not exist here: the
 * shared backend is `gateway.redis`.
 */

/** The periods, shortest first, with their window length and header suffix. */
export const PERIODS = [
  { name: 'second', ms: 1_000, header: 'Second' },
  { name: 'minute', ms: 60_000, header: 'Minute' },
  { name: 'hour', ms: 3_600_000, header: 'Hour' },
  { name: 'day', ms: 86_400_000, header: 'Day' },
  { name: 'month', ms: 30 * 86_400_000, header: 'Month' },
  { name: 'year', ms: 365 * 86_400_000, header: 'Year' },
] as const;

export type PeriodName = (typeof PERIODS)[number]['name'];

export const LIMIT_BY = ['ip', 'user', 'consumer', 'credential', 'header', 'path', 'service', 'workspace'] as const;
export type LimitBy = (typeof LIMIT_BY)[number];

const limit = (period: string) =>
  z
    .number({ error: `expected a whole number of requests per ${period}` })
    .int(`expected a whole number of requests per ${period}`)
    .min(1, 'must be at least 1')
    .optional()
    .describe(`Requests allowed per ${period}${period === 'month' ? ' (30 days)' : period === 'year' ? ' (365 days)' : ''}.`);

const policy = z
  .enum(['local', 'redis'], { error: 'expected "local" or "redis" (Kong\'s "cluster" policy is not supported; use "redis" with gateway.redis)' })
  .optional()
  .describe('`redis`: shared by every replica through gateway.redis; `local`: this process only. Default: `redis` when gateway.redis is set, else `local`.');

export const rateLimitingSchema = z
  .strictObject({
    second: limit('second'),
    minute: limit('minute'),
    hour: limit('hour'),
    day: limit('day'),
    month: limit('month'),
    year: limit('year'),
    limit_by: z
      .enum(LIMIT_BY, { error: `expected one of ${LIMIT_BY.join(', ')}` })
      .default('consumer')
      .describe(
        'What is counted: `ip` (an IPv6 client by its /64); `user` (authenticated user id, else consumer, else IP); `consumer` (else credential, else IP); `credential`; `header` (`header_name`); `path` (`path`); `service`; `workspace` (the token-budget workspace, else the caller\'s first). A missing identifier falls back to the IP, as in Kong.',
      ),
    header_name: zHeaderName('X-Caller-Id').optional().describe('Header whose value is counted when `limit_by: header`.'),
    path: z.string().startsWith('/', 'expected a path starting with "/"').optional().describe('Path counted when `limit_by: path` (other paths fall back to the IP).'),
    policy,
    window_type: z.enum(['sliding', 'fixed'], { error: 'expected "sliding" or "fixed"' }).default('sliding').describe('`sliding`: two-window weighted estimate (smooth, no burst at window edges); `fixed`: one count per epoch-aligned window (a day is 00:00-24:00 UTC).'),
    fault_tolerant: z.boolean().default(true).describe('While Redis is unreachable: true = keep limiting with in-process counters; false = answer 503.'),
    hide_client_headers: z.boolean().default(false).describe('Send no X-RateLimit-* / RateLimit-* headers (Retry-After stays on 429).'),
    error_code: z.number().int().min(400, 'expected an HTTP error status (400-599)').max(599, 'expected an HTTP error status (400-599)').default(429).describe('Status of a refused request.'),
    error_message: z.string().min(1).default('API rate limit exceeded').describe('Message of a refused request.'),
  })
  .superRefine((c, ctx) => {
    const set = PERIODS.filter((p) => c[p.name] !== undefined);
    if (set.length === 0) {
      ctx.addIssue({ code: 'custom', path: [], message: `set at least one limit: ${PERIODS.map((p) => p.name).join(', ')}` });
    }
    for (let n = 1; n < set.length; n++) {
      const shorter = set[n - 1]!;
      const longer = set[n]!;
      if (c[longer.name]! < c[shorter.name]!) {
        ctx.addIssue({
          code: 'custom',
          path: [longer.name],
          message: `the limit for ${longer.name} (${c[longer.name]}) cannot be lower than the limit for ${shorter.name} (${c[shorter.name]})`,
        });
      }
    }
    if (c.limit_by === 'header' && c.header_name === undefined) ctx.addIssue({ code: 'custom', path: ['header_name'], message: 'required when limit_by is "header"' });
    if (c.limit_by === 'path' && c.path === undefined) ctx.addIssue({ code: 'custom', path: ['path'], message: 'required when limit_by is "path"' });
  });

export type RateLimitingConfig = z.output<typeof rateLimitingSchema>;
