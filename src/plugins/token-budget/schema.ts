import { z } from 'zod';
import { zHeaderName } from '../../config/units.js';

/** `token-budget` config (SPEC §7): a daily token budget per workspace. */

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export const tokenBudgetSchema = z.strictObject({
  day: z
    .number({ error: 'expected the default daily budget per workspace, in tokens (e.g. day: 1000000)' })
    .int('expected a whole number of tokens')
    .min(0, 'must not be negative')
    .describe("Default daily budget per workspace, in tokens. A workspace's stored `token_budget_day` (Admin API `PUT /workspaces/{id}`) overrides it."),
  workspace_header: zHeaderName('X-Workspace-Id')
    .default('X-Workspace-Id')
    .describe('Request header naming the workspace to charge (removed before the request goes upstream; the resolved one is sent as X-Workspace-Id).'),
  workspace_claims: z
    .array(z.string().min(1))
    .default(['workspaces', 'workspace_id'])
    .describe("Token claims listing the caller's workspaces (a string or an array of strings each)."),
  membership: z
    .enum(['strict', 'open'], { error: 'expected "strict" or "open"' })
    .default('strict')
    .describe("`strict`: the workspace must be in the caller's token claims, the auth service's `workspaces`, or stored memberships; `open`: any workspace the header names."),
  reset_timezone: z
    .string()
    .refine(isTimeZone, { message: 'expected an IANA time zone such as UTC or Europe/Paris' })
    .default('UTC')
    .describe('Budgets reset at midnight in this time zone (IANA name).'),
  default_completion_reservation: z
    .number()
    .int('expected a whole number of tokens')
    .min(0, 'must not be negative')
    .default(1024)
    .describe('Completion tokens reserved when the request sets no max_tokens / max_completion_tokens / max_output_tokens.'),
  policy: z
    .enum(['local', 'redis'], { error: 'expected "local" or "redis"' })
    .optional()
    .describe('`redis`: one budget shared by every replica through gateway.redis; `local`: this process only. Default: `redis` when gateway.redis is set, else `local`.'),
  fault_tolerant: z.boolean().default(true).describe('While Redis is unreachable: true = account in-process and keep serving; false = answer 503.'),
});

export type TokenBudgetConfig = z.output<typeof tokenBudgetSchema>;
