import { randomUUID } from 'node:crypto';
import { jwtSecretFromRow, jwtSecretToRow } from '../rows.js';
import { guarded, lookup, type RepoContext } from '../guard.js';
import type { JwtSecret, NewJwtSecret, Store } from '../types.js';

export function jwtSecretsRepo(ctx: RepoContext): Store['jwtSecrets'] {
  const { db } = ctx;
  return {
    listByConsumer: (consumerId: string) =>
      guarded(ctx, {}, async () => {
        const rows = await db.selectFrom('jwt_secrets').selectAll().where('consumer_id', '=', consumerId).orderBy('created_at').orderBy('id').execute();
        return rows.map(jwtSecretFromRow);
      }),

    get: (id: string) =>
      lookup(ctx, [id], null, async () => {
        const row = await db.selectFrom('jwt_secrets').selectAll().where('id', '=', id).executeTakeFirst();
        return row ? jwtSecretFromRow(row) : null;
      }),

    // Request path: one lookup on the unique `key` index.
    getByKey: (key: string) =>
      lookup(ctx, [key], null, async () => {
        const row = await db.selectFrom('jwt_secrets').selectAll().where('key', '=', key).executeTakeFirst();
        return row ? jwtSecretFromRow(row) : null;
      }),

    create: (s: NewJwtSecret) => {
      const secret: JwtSecret = {
        id: s.id ?? randomUUID(),
        consumer_id: s.consumer_id,
        key: s.key,
        algorithm: s.algorithm,
        rsa_public_key: s.rsa_public_key ?? null,
        secret: s.secret ?? null,
        tags: s.tags ?? [],
        source: s.source ?? 'admin',
        created_at: s.created_at ?? Date.now(),
      };
      const errCtx = { entity: 'jwt_secret', values: secret, reference: { entity: 'consumer', field: 'consumer_id', value: s.consumer_id } };
      return guarded(ctx, errCtx, async () => {
        await db.insertInto('jwt_secrets').values(jwtSecretToRow(secret)).execute();
        return secret;
      });
    },

    delete: (id: string) =>
      guarded(ctx, {}, async () => {
        const res = await db.deleteFrom('jwt_secrets').where('id', '=', id).executeTakeFirst();
        return res.numDeletedRows > 0n;
      }),
  };
}
