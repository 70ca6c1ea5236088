import { consumerFromRow, jwtSecretFromRow, memberFromRow, oauth2CredentialFromRow, workspaceFromRow } from './rows.js';
import { guarded, type RepoContext } from './guard.js';
import type { EntitySnapshot, JwtSecret, OAuth2Credential } from './types.js';

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

/**
 * Every stored entity, consistent as of one moment (a repeatable-read transaction on
 * PostgreSQL; SQLite transactions are serializable), oldest first.
 */
export function exportEntities(ctx: RepoContext): Promise<EntitySnapshot> {
  return guarded(ctx, {}, () =>
    ctx.db
      .transaction()
      .setIsolationLevel('repeatable read')
      .execute(async (trx) => {
        const consumers = (await trx.selectFrom('consumers').selectAll().orderBy('created_at').orderBy('id').execute()).map(consumerFromRow);
        const jwt = (await trx.selectFrom('jwt_secrets').selectAll().orderBy('created_at').orderBy('id').execute()).map(jwtSecretFromRow);
        const oauth2 = (await trx.selectFrom('oauth2_credentials').selectAll().orderBy('created_at').orderBy('id').execute()).map(oauth2CredentialFromRow);
        const workspaces = (await trx.selectFrom('workspaces').selectAll().orderBy('created_at').orderBy('id').execute()).map(workspaceFromRow);
        const members = (await trx.selectFrom('workspace_members').selectAll().orderBy('created_at').orderBy('user_id').execute()).map(memberFromRow);

        const jwtOf = groupBy(jwt, (s) => s.consumer_id);
        const oauth2Of = groupBy(oauth2, (c) => c.consumer_id);
        const membersOf = groupBy(members, (m) => m.workspace_id);
        return {
          consumers: consumers.map((c) => ({
            ...c,
            jwt_secrets: jwtOf.get(c.id) ?? ([] as JwtSecret[]),
            oauth2_credentials: oauth2Of.get(c.id) ?? ([] as OAuth2Credential[]),
          })),
          workspaces: workspaces.map((w) => ({ ...w, members: (membersOf.get(w.id) ?? []).map((m) => m.user_id) })),
        };
      }),
  );
}
