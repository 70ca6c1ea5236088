import { randomUUID } from 'node:crypto';
import { consumerFromRow, consumerToRow, encodeStrings } from '../rows.js';
import { guarded, lookup, pageLimit, type RepoContext } from '../guard.js';
import type { Consumer, ListOptions, NewConsumer, Store } from '../types.js';

export function consumersRepo(ctx: RepoContext): Store['consumers'] {
  const { db } = ctx;
  return {
    list: (opts: ListOptions = {}) =>
      guarded(ctx, {}, async () => {
        let q = db.selectFrom('consumers').selectAll().orderBy('created_at').orderBy('id');
        const limit = pageLimit(opts);
        if (limit !== undefined) q = q.limit(limit);
        if (opts.offset) q = q.offset(opts.offset);
        return (await q.execute()).map(consumerFromRow);
      }),

    // One query: an id match wins over a username match (Kong's `{consumer}` parameter).
    get: (idOrUsername: string) =>
      lookup(ctx, [idOrUsername], null, async () => {
        const row = await db
          .selectFrom('consumers')
          .selectAll()
          .where((eb) => eb.or([eb('id', '=', idOrUsername), eb('username', '=', idOrUsername)]))
          .orderBy((eb) => eb.case().when('id', '=', idOrUsername).then(0).else(1).end())
          .limit(1)
          .executeTakeFirst();
        return row ? consumerFromRow(row) : null;
      }),

    create: (c: NewConsumer) => {
      const consumer: Consumer = {
        id: c.id ?? randomUUID(),
        username: c.username ?? null,
        custom_id: c.custom_id ?? null,
        tags: c.tags ?? [],
        source: c.source ?? 'admin',
        created_at: c.created_at ?? Date.now(),
      };
      return guarded(ctx, { entity: 'consumer', values: consumer }, async () => {
        await db.insertInto('consumers').values(consumerToRow(consumer)).execute();
        return consumer;
      });
    },

    update: (id, patch) =>
      guarded(ctx, { entity: 'consumer', values: patch }, async () => {
        const set: { username?: string | null; custom_id?: string | null; tags?: string } = {};
        if (patch.username !== undefined) set.username = patch.username;
        if (patch.custom_id !== undefined) set.custom_id = patch.custom_id;
        if (patch.tags !== undefined) set.tags = encodeStrings(patch.tags);
        const q = db.updateTable('consumers').where('id', '=', id);
        const row = Object.keys(set).length
          ? await q.set(set).returningAll().executeTakeFirst()
          : await db.selectFrom('consumers').selectAll().where('id', '=', id).executeTakeFirst();
        return row ? consumerFromRow(row) : null;
      }),

    // Credentials go with it (ON DELETE CASCADE).
    delete: (id: string) =>
      guarded(ctx, {}, async () => {
        const res = await db.deleteFrom('consumers').where('id', '=', id).executeTakeFirst();
        return res.numDeletedRows > 0n;
      }),
  };
}
