import { memberFromRow, workspaceFromRow } from '../rows.js';
import { guarded, lookup, pageLimit, type RepoContext } from '../guard.js';
import type { EntitySource, ListOptions, Store } from '../types.js';

export function workspacesRepo(ctx: RepoContext): Store['workspaces'] {
  const { db } = ctx;
  return {
    list: (opts: ListOptions = {}) =>
      guarded(ctx, {}, async () => {
        let q = db.selectFrom('workspaces').selectAll().orderBy('created_at').orderBy('id');
        const limit = pageLimit(opts);
        if (limit !== undefined) q = q.limit(limit);
        if (opts.offset) q = q.offset(opts.offset);
        return (await q.execute()).map(workspaceFromRow);
      }),

    get: (id: string) =>
      lookup(ctx, [id], null, async () => {
        const row = await db.selectFrom('workspaces').selectAll().where('id', '=', id).executeTakeFirst();
        return row ? workspaceFromRow(row) : null;
      }),

    upsert: (id, patch) =>
      guarded(ctx, { entity: 'workspace' }, async () => {
        const now = Date.now();
        const row = await db
          .insertInto('workspaces')
          .values({ id, token_budget_day: patch.token_budget_day, source: patch.source ?? 'admin', created_at: now, updated_at: now })
          .onConflict((oc) => oc.column('id').doUpdateSet({ token_budget_day: patch.token_budget_day, updated_at: now }))
          .returningAll()
          .executeTakeFirstOrThrow();
        return workspaceFromRow(row);
      }),

    // Memberships go with it (ON DELETE CASCADE).
    delete: (id: string) =>
      guarded(ctx, {}, async () => {
        const res = await db.deleteFrom('workspaces').where('id', '=', id).executeTakeFirst();
        return res.numDeletedRows > 0n;
      }),

    addMember: (workspaceId: string, userId: string, source: EntitySource = 'admin') =>
      guarded(ctx, { entity: 'workspace_member' }, () =>
        db.transaction().execute(async (trx) => {
          const now = Date.now();
          await trx
            .insertInto('workspaces')
            .values({ id: workspaceId, token_budget_day: null, source, created_at: now, updated_at: now })
            .onConflict((oc) => oc.column('id').doNothing())
            .execute();
          await trx
            .insertInto('workspace_members')
            .values({ workspace_id: workspaceId, user_id: userId, source, created_at: now })
            .onConflict((oc) => oc.columns(['workspace_id', 'user_id']).doNothing())
            .execute();
          const row = await trx
            .selectFrom('workspace_members')
            .selectAll()
            .where('workspace_id', '=', workspaceId)
            .where('user_id', '=', userId)
            .executeTakeFirstOrThrow();
          return memberFromRow(row);
        }),
      ),

    removeMember: (workspaceId: string, userId: string) =>
      guarded(ctx, {}, async () => {
        const res = await db.deleteFrom('workspace_members').where('workspace_id', '=', workspaceId).where('user_id', '=', userId).executeTakeFirst();
        return res.numDeletedRows > 0n;
      }),

    // Request path (token-budget, membership: strict): one primary-key lookup.
    isMember: (workspaceId: string, userId: string) =>
      lookup(ctx, [workspaceId, userId], false, async () => {
        const row = await db
          .selectFrom('workspace_members')
          .select('user_id')
          .where('workspace_id', '=', workspaceId)
          .where('user_id', '=', userId)
          .executeTakeFirst();
        return row !== undefined;
      }),

    listMembers: (workspaceId: string) =>
      lookup(ctx, [workspaceId], [], async () => {
        const rows = await db.selectFrom('workspace_members').selectAll().where('workspace_id', '=', workspaceId).orderBy('created_at').orderBy('user_id').execute();
        return rows.map(memberFromRow);
      }),

    // Request path: one range scan of the (user_id, created_at) index.
    workspacesOf: (userId: string) =>
      lookup(ctx, [userId], [], async () => {
        const rows = await db
          .selectFrom('workspace_members')
          .select('workspace_id')
          .where('user_id', '=', userId)
          .orderBy('created_at')
          .orderBy('workspace_id')
          .execute();
        return rows.map((r) => r.workspace_id);
      }),
  };
}
