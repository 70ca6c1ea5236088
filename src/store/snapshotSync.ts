import { sql, type Kysely } from 'kysely';
import { consumerToRow, jwtSecretToRow, oauth2CredentialToRow } from './rows.js';
import { translateError } from './errors.js';
import { GatewayError } from '../core/errors.js';
import { chunked, planOf, resolvePlan, type SyncPlan } from './syncPlan.js';
import type { RepoContext } from './guard.js';
import type { Database } from './tables.js';
import type { EntitySnapshot, EntitySource, SyncOptions } from './types.js';

/**
 * syncEntities: one transaction that (replace) deletes the stale rows of the source, then
 * upserts every snapshot row by id. Stale rows go first so a renamed natural key can be reused
 * in the same sync. Concurrent syncs of one snapshot (replicas starting together) are retried
 * on deadlock / serialization failure / a lost insert race.
 */

const ATTEMPTS = 3;
const RETRYABLE = new Set(['40001', '40P01', '23505']);

type Db = Kysely<Database>;
type StoreCtx = RepoContext & { kind: 'sqlite' | 'postgres' };

/** What the write steps share inside the transaction. */
interface Writer {
  trx: Db;
  ctx: StoreCtx;
  source: EntitySource;
  /** replace: existing rows take the sync's source; merge: they keep theirs. */
  takeOver: boolean;
  /**
   * Rows per INSERT. SQLite is in-process, so one row per statement costs nothing and lets a
   * clash name its value; PostgreSQL batches (its error detail names the value).
   */
  batch: number;
}

/** Runs one write; a clash names the row when the batch is a single row. */
async function write<R extends object>(w: Writer, entity: string, rows: R[], run: (rows: R[]) => Promise<unknown>): Promise<void> {
  for (const batch of chunked(rows, w.batch)) {
    try {
      await run(batch);
    } catch (err) {
      throw translateError(err, w.ctx.location, { entity, values: batch.length === 1 ? batch[0] : undefined });
    }
  }
}

async function deleteStale(trx: Db, plan: SyncPlan, source: EntitySource): Promise<void> {
  const members = await trx.selectFrom('workspace_members').select(['workspace_id', 'user_id']).where('source', '=', source).execute();
  const keepMembers = new Set(plan.members.map((m) => `${m.workspace_id}\u0000${m.user_id}`));
  for (const m of members) {
    if (keepMembers.has(`${m.workspace_id}\u0000${m.user_id}`)) continue;
    await trx.deleteFrom('workspace_members').where('workspace_id', '=', m.workspace_id).where('user_id', '=', m.user_id).execute();
  }
  const tables = [
    ['jwt_secrets', plan.jwt],
    ['oauth2_credentials', plan.oauth2],
    ['consumers', plan.consumers],
    ['workspaces', plan.workspaces],
  ] as const;
  for (const [table, rows] of tables) {
    const stored = await trx.selectFrom(table).select('id').where('source', '=', source).execute();
    const keep = new Set(rows.map((r) => r.id));
    const stale = stored.map((r) => r.id).filter((id) => !keep.has(id));
    for (const ids of chunked(stale)) await trx.deleteFrom(table).where('id', 'in', ids).execute();
  }
}

async function upsertConsumers(w: Writer, plan: SyncPlan): Promise<void> {
  await write(w, 'consumer', plan.consumers.map(consumerToRow), (rows) =>
    w.trx
      .insertInto('consumers')
      .values(rows)
      .onConflict((oc) =>
        oc.column('id').doUpdateSet((eb) => ({
          username: eb.ref('excluded.username'),
          custom_id: eb.ref('excluded.custom_id'),
          tags: eb.ref('excluded.tags'),
          ...(w.takeOver ? { source: eb.ref('excluded.source') } : {}),
        })),
      )
      .execute(),
  );
}

async function upsertJwtSecrets(w: Writer, plan: SyncPlan): Promise<void> {
  await write(w, 'jwt_secret', plan.jwt.map(jwtSecretToRow), (rows) =>
    w.trx
      .insertInto('jwt_secrets')
      .values(rows)
      .onConflict((oc) =>
        oc.column('id').doUpdateSet((eb) => ({
          consumer_id: eb.ref('excluded.consumer_id'),
          key: eb.ref('excluded.key'),
          algorithm: eb.ref('excluded.algorithm'),
          rsa_public_key: eb.ref('excluded.rsa_public_key'),
          secret: eb.ref('excluded.secret'),
          tags: eb.ref('excluded.tags'),
          ...(w.takeOver ? { source: eb.ref('excluded.source') } : {}),
        })),
      )
      .execute(),
  );
}

async function upsertOAuth2Credentials(w: Writer, plan: SyncPlan): Promise<void> {
  await write(w, 'oauth2_credential', plan.oauth2.map(oauth2CredentialToRow), (rows) =>
    w.trx
      .insertInto('oauth2_credentials')
      .values(rows)
      .onConflict((oc) =>
        oc.column('id').doUpdateSet((eb) => ({
          consumer_id: eb.ref('excluded.consumer_id'),
          name: eb.ref('excluded.name'),
          client_id: eb.ref('excluded.client_id'),
          client_secret_hash: eb.ref('excluded.client_secret_hash'),
          client_type: eb.ref('excluded.client_type'),
          redirect_uris: eb.ref('excluded.redirect_uris'),
          tags: eb.ref('excluded.tags'),
          ...(w.takeOver ? { source: eb.ref('excluded.source') } : {}),
        })),
      )
      .execute(),
  );
}

async function upsertWorkspaces(w: Writer, plan: SyncPlan): Promise<void> {
  await write(w, 'workspace', plan.workspaces, (rows) =>
    w.trx
      .insertInto('workspaces')
      .values(rows)
      .onConflict((oc) =>
        oc.column('id').doUpdateSet((eb) => ({
          token_budget_day: eb.ref('excluded.token_budget_day'),
          // updated_at moves only when the override really changes (no churn on every reload).
          updated_at: eb
            .case()
            .when('workspaces.token_budget_day', 'is distinct from', eb.ref('excluded.token_budget_day'))
            .then(eb.ref('excluded.updated_at'))
            .else(eb.ref('workspaces.updated_at'))
            .end(),
          ...(w.takeOver ? { source: eb.ref('excluded.source') } : {}),
        })),
      )
      .execute(),
  );
  const now = Date.now();
  const members = plan.members.map((m) => ({ ...m, source: w.source, created_at: now }));
  await write(w, 'workspace_member', members, (rows) =>
    w.trx
      .insertInto('workspace_members')
      .values(rows)
      .onConflict((oc) =>
        w.takeOver ? oc.columns(['workspace_id', 'user_id']).doUpdateSet((eb) => ({ source: eb.ref('excluded.source') })) : oc.doNothing(),
      )
      .execute(),
  );
}

async function syncOnce(ctx: StoreCtx, snapshot: EntitySnapshot, opts: SyncOptions): Promise<void> {
  await ctx.db.transaction().execute(async (trx) => {
    // SQLite: take the write lock first (BEGIN IMMEDIATE), so busy_timeout applies instead of
    // failing the read-to-write upgrade when another process wrote meanwhile.
    if (ctx.kind === 'sqlite') await sql`delete from workspace_members where 0 = 1`.execute(trx);
    const plan = await resolvePlan(trx, planOf(snapshot, opts.source));
    const w: Writer = { trx, ctx, source: opts.source, takeOver: opts.mode === 'replace', batch: ctx.kind === 'sqlite' ? 1 : 100 };
    if (w.takeOver) await deleteStale(trx, plan, opts.source);
    await upsertConsumers(w, plan);
    await upsertJwtSecrets(w, plan);
    await upsertOAuth2Credentials(w, plan);
    await upsertWorkspaces(w, plan);
  });
}

function sqlState(err: unknown): string | undefined {
  if (err instanceof GatewayError) return sqlState(err.cause);
  const code = typeof err === 'object' && err !== null && 'code' in err ? (err as { code: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

export async function syncEntities(ctx: StoreCtx, snapshot: EntitySnapshot, opts: SyncOptions): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await syncOnce(ctx, snapshot, opts);
      return;
    } catch (err) {
      const code = sqlState(err);
      if (ctx.kind === 'postgres' && code !== undefined && RETRYABLE.has(code) && attempt < ATTEMPTS) continue;
      throw translateError(err, ctx.location, { entity: 'entity' });
    }
  }
}
