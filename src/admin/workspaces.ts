import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { writeThrough, type AdminContext } from './context.js';
import { AdminError, notFound, parseBody, readOnly, seconds } from './errors.js';
import { CountersUnavailableError } from '../counters/types.js';
import { budgetBooks, type BudgetBook } from '../plugins/token-budget/book.js';
import type { Workspace, WorkspaceMember } from '../store/types.js';

/**
 * Admin API `/workspaces` (SPEC §7, §10): a workspace's daily token budget (limit override,
 * today's usage), its members, and a usage reset. Any workspace id has a budget (the plugin's
 * default `day`), stored or not; storing one is only needed for an override or members.
 * Usage is read from the counters the live token-budget entry uses (Redis when shared).
 */

const WORKSPACE_ID = /^[\x21-\x7e]{1,255}$/;

const budgetInput = z.strictObject({
  token_budget_day: z.union(
    [
      z.number().int('expected a whole number of tokens').min(0, 'must not be negative'),
      z.null(),
      z
        .string()
        .regex(/^\d+$/, 'expected a whole number of tokens')
        .transform((v) => Number(v))
        .pipe(z.number().max(Number.MAX_SAFE_INTEGER, 'too large: at most 9007199254740991 tokens')),
    ],
    { error: 'expected a whole number of tokens, or null to use the default' },
  ),
});

interface Params {
  id: string;
}

interface MemberParams extends Params {
  user_id: string;
}

function workspaceId(id: string): string {
  if (!WORKSPACE_ID.test(id)) throw new AdminError(400, 'schema violation', { id: 'expected 1 to 255 visible characters without spaces' });
  return id;
}

function countersDown(err: unknown): never {
  if (err instanceof CountersUnavailableError) throw new AdminError(503, 'Rate-limit counters are unavailable, try again later');
  throw err;
}

function stored(w: Workspace | null): Record<string, unknown> {
  return w === null ? { source: null, created_at: null, updated_at: null } : { source: w.source, created_at: seconds(w.created_at), updated_at: seconds(w.updated_at) };
}

function memberView(m: WorkspaceMember): WorkspaceMember {
  return { ...m, created_at: seconds(m.created_at) };
}

/** `GET /workspaces/{id}`: override, limit, today's used/reserved/remaining, reset time, members. */
async function describe(ctx: AdminContext, id: string): Promise<Record<string, unknown>> {
  const [row, members] = await Promise.all([ctx.store.workspaces.get(id), ctx.store.workspaces.listMembers(id)]);
  const override = row?.token_budget_day ?? null;
  const base = { id, token_budget_day: override, ...stored(row), members: members.map((m) => m.user_id) };
  const book: BudgetBook | undefined = budgetBooks(ctx.runtime().instances)[0];
  if (book === undefined) {
    return { ...base, limit: override, used: null, reserved: null, remaining: null, resets_at: null, period: null, reset_timezone: null };
  }
  const usage = await book.usage(id).catch(countersDown);
  const limit = override ?? book.defaultLimit;
  return {
    ...base,
    limit,
    used: usage.used,
    reserved: usage.reserved,
    remaining: Math.max(0, limit - usage.used - usage.reserved),
    resets_at: new Date(usage.day.endMs).toISOString(),
    period: usage.day.date,
    reset_timezone: book.period.timeZone,
  };
}

export async function workspaceRoutes(app: FastifyInstance, ctx: AdminContext): Promise<void> {
  app.get('/workspaces', async () => {
    const rows = await ctx.store.workspaces.list();
    return { data: rows.map((w) => ({ id: w.id, token_budget_day: w.token_budget_day, ...stored(w) })), next: null };
  });

  app.get<{ Params: Params }>('/workspaces/:id', async (req) => describe(ctx, workspaceId(req.params.id)));

  app.put<{ Params: Params }>('/workspaces/:id', async (req) => {
    const id = workspaceId(req.params.id);
    const input = parseBody(budgetInput, req.body);
    await writeThrough(ctx, () => ctx.store.workspaces.upsert(id, { token_budget_day: input.token_budget_day, source: 'admin' }));
    return describe(ctx, id);
  });

  app.delete<{ Params: Params }>('/workspaces/:id', async (req, reply) => {
    const id = workspaceId(req.params.id);
    // Like a config-file consumer: deleting it would last only until the next reload.
    if ((await ctx.store.workspaces.get(id))?.source === 'config') throw readOnly('workspace', id);
    if (!(await writeThrough(ctx, () => ctx.store.workspaces.delete(id)))) throw notFound('workspace');
    return reply.code(204).send();
  });

  app.get<{ Params: Params }>('/workspaces/:id/members', async (req) => {
    const members = await ctx.store.workspaces.listMembers(workspaceId(req.params.id));
    return { data: members.map(memberView), next: null };
  });

  app.put<{ Params: MemberParams }>('/workspaces/:id/members/:user_id', async (req) => {
    const id = workspaceId(req.params.id);
    if (req.params.user_id === '') throw new AdminError(400, 'schema violation', { user_id: 'must not be empty' });
    const member = await writeThrough(ctx, () => ctx.store.workspaces.addMember(id, req.params.user_id, 'admin'));
    return memberView(member);
  });

  app.delete<{ Params: MemberParams }>('/workspaces/:id/members/:user_id', async (req, reply) => {
    const id = workspaceId(req.params.id);
    const member = (await ctx.store.workspaces.listMembers(id)).find((m) => m.user_id === req.params.user_id);
    if (member?.source === 'config') throw readOnly('membership', `${id}/${req.params.user_id}`);
    if (!(await writeThrough(ctx, () => ctx.store.workspaces.removeMember(id, req.params.user_id)))) throw notFound('member');
    return reply.code(204).send();
  });

  app.post<{ Params: Params }>('/workspaces/:id/usage/reset', async (req) => {
    const id = workspaceId(req.params.id);
    for (const book of budgetBooks(ctx.runtime().instances)) await book.reset(id).catch(countersDown);
    return describe(ctx, id);
  });
}
