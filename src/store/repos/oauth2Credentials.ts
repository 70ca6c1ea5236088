import { randomUUID } from 'node:crypto';
import { oauth2CredentialFromRow, oauth2CredentialToRow } from '../rows.js';
import { guarded, lookup, type RepoContext } from '../guard.js';
import type { NewOAuth2Credential, OAuth2Credential, Store } from '../types.js';

export function oauth2CredentialsRepo(ctx: RepoContext): Store['oauth2Credentials'] {
  const { db } = ctx;
  return {
    listByConsumer: (consumerId: string) =>
      guarded(ctx, {}, async () => {
        const rows = await db
          .selectFrom('oauth2_credentials')
          .selectAll()
          .where('consumer_id', '=', consumerId)
          .orderBy('created_at')
          .orderBy('id')
          .execute();
        return rows.map(oauth2CredentialFromRow);
      }),

    get: (id: string) =>
      lookup(ctx, [id], null, async () => {
        const row = await db.selectFrom('oauth2_credentials').selectAll().where('id', '=', id).executeTakeFirst();
        return row ? oauth2CredentialFromRow(row) : null;
      }),

    // Request path (/oauth2/token, /oauth2/authorize): one lookup on the unique `client_id` index.
    getByClientId: (clientId: string) =>
      lookup(ctx, [clientId], null, async () => {
        const row = await db.selectFrom('oauth2_credentials').selectAll().where('client_id', '=', clientId).executeTakeFirst();
        return row ? oauth2CredentialFromRow(row) : null;
      }),

    create: (c: NewOAuth2Credential) => {
      const cred: OAuth2Credential = {
        id: c.id ?? randomUUID(),
        consumer_id: c.consumer_id,
        name: c.name,
        client_id: c.client_id,
        client_secret_hash: c.client_secret_hash ?? null,
        client_type: c.client_type,
        redirect_uris: c.redirect_uris,
        tags: c.tags ?? [],
        source: c.source ?? 'admin',
        created_at: c.created_at ?? Date.now(),
      };
      const errCtx = { entity: 'oauth2_credential', values: cred, reference: { entity: 'consumer', field: 'consumer_id', value: c.consumer_id } };
      return guarded(ctx, errCtx, async () => {
        await db.insertInto('oauth2_credentials').values(oauth2CredentialToRow(cred)).execute();
        return cred;
      });
    },

    delete: (id: string) =>
      guarded(ctx, {}, async () => {
        const res = await db.deleteFrom('oauth2_credentials').where('id', '=', id).executeTakeFirst();
        return res.numDeletedRows > 0n;
      }),
  };
}
