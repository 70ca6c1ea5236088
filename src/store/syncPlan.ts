import type { Kysely } from 'kysely';
import type { Database } from './tables.js';
import type { Consumer, EntitySnapshot, EntitySource, JwtSecret, OAuth2Credential, Workspace } from './types.js';

/**
 * A snapshot flattened into rows (syncEntities writes these), and the id resolution that keeps
 * ids stable: an entity whose id is not stored yet but whose natural key is (username or
 * custom_id, jwt key, client_id) takes the stored row's id, so re-importing a file without ids
 * or taking over an Admin API consumer in the config file updates instead of clashing.
 */
export interface SyncPlan {
  consumers: Consumer[];
  jwt: JwtSecret[];
  oauth2: OAuth2Credential[];
  workspaces: Workspace[];
  members: Array<{ workspace_id: string; user_id: string }>;
}

/** Bound parameters per statement stay far below SQLite's and PostgreSQL's limits. */
export const CHUNK = 200;

export function chunked<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Last occurrence wins, first position kept. */
function uniqueBy<T>(items: T[], key: (t: T) => string): T[] {
  const map = new Map<string, T>();
  for (const item of items) map.set(key(item), item);
  return [...map.values()];
}

export function planOf(snapshot: EntitySnapshot, source: EntitySource): SyncPlan {
  const now = Date.now();
  const consumers = snapshot.consumers.map((c): Consumer => ({
    id: c.id,
    username: c.username,
    custom_id: c.custom_id,
    tags: c.tags,
    source,
    created_at: c.created_at || now,
  }));
  const jwt = snapshot.consumers.flatMap((c) => c.jwt_secrets.map((s): JwtSecret => ({ ...s, consumer_id: c.id, source, created_at: s.created_at || now })));
  const oauth2 = snapshot.consumers.flatMap((c) =>
    c.oauth2_credentials.map((o): OAuth2Credential => ({ ...o, consumer_id: c.id, source, created_at: o.created_at || now })),
  );
  const workspaces = snapshot.workspaces.map((w): Workspace => ({
    id: w.id,
    token_budget_day: w.token_budget_day,
    source,
    created_at: w.created_at || now,
    updated_at: now,
  }));
  const members = snapshot.workspaces.flatMap((w) => w.members.map((user_id) => ({ workspace_id: w.id, user_id })));
  return {
    consumers: uniqueBy(consumers, (c) => c.id),
    jwt: uniqueBy(jwt, (s) => s.id),
    oauth2: uniqueBy(oauth2, (o) => o.id),
    workspaces: uniqueBy(workspaces, (w) => w.id),
    members: uniqueBy(members, (m) => `${m.workspace_id}\u0000${m.user_id}`),
  };
}

interface Stored {
  id: string;
  keys: string[];
}

/** Snapshot id → id to write: the own id if stored, else the id of the row holding a natural key. */
function resolveIds<T extends { id: string }>(items: T[], keysOf: (t: T) => string[], stored: Stored[]): Map<string, string> {
  const storedIds = new Set(stored.map((s) => s.id));
  const byKey = new Map<string, string>();
  for (const s of stored) for (const k of s.keys) byKey.set(k, s.id);
  const own = new Set(items.map((i) => i.id));
  const claimed = new Set<string>();
  const out = new Map<string, string>();
  for (const item of items) {
    let target = item.id;
    if (!storedIds.has(item.id)) {
      const match = keysOf(item)
        .map((k) => byKey.get(k))
        .find((id) => id !== undefined);
      // Never fold two snapshot entries into one row: let the write report the clash instead.
      if (match !== undefined && !own.has(match) && !claimed.has(match)) target = match;
    }
    claimed.add(target);
    out.set(item.id, target);
  }
  return out;
}

const consumerKeys = (c: { username: string | null; custom_id: string | null }): string[] =>
  [c.username === null ? null : `u:${c.username}`, c.custom_id === null ? null : `c:${c.custom_id}`].filter((k): k is string => k !== null);

async function storedConsumers(db: Kysely<Database>, plan: SyncPlan): Promise<Stored[]> {
  const q = () => db.selectFrom('consumers').select(['id', 'username', 'custom_id']);
  const rows = [];
  for (const ids of chunked(plan.consumers.map((c) => c.id))) rows.push(...(await q().where('id', 'in', ids).execute()));
  const usernames = plan.consumers.flatMap((c) => (c.username === null ? [] : [c.username]));
  for (const names of chunked(usernames)) rows.push(...(await q().where('username', 'in', names).execute()));
  const customIds = plan.consumers.flatMap((c) => (c.custom_id === null ? [] : [c.custom_id]));
  for (const cids of chunked(customIds)) rows.push(...(await q().where('custom_id', 'in', cids).execute()));
  return rows.map((r) => ({ id: r.id, keys: consumerKeys(r) }));
}

async function storedJwt(db: Kysely<Database>, plan: SyncPlan): Promise<Stored[]> {
  const q = () => db.selectFrom('jwt_secrets').select(['id', 'key']);
  const rows = [];
  for (const ids of chunked(plan.jwt.map((s) => s.id))) rows.push(...(await q().where('id', 'in', ids).execute()));
  for (const keys of chunked(plan.jwt.map((s) => s.key))) rows.push(...(await q().where('key', 'in', keys).execute()));
  return rows.map((r) => ({ id: r.id, keys: [r.key] }));
}

async function storedOAuth2(db: Kysely<Database>, plan: SyncPlan): Promise<Stored[]> {
  const q = () => db.selectFrom('oauth2_credentials').select(['id', 'client_id']);
  const rows = [];
  for (const ids of chunked(plan.oauth2.map((o) => o.id))) rows.push(...(await q().where('id', 'in', ids).execute()));
  for (const cids of chunked(plan.oauth2.map((o) => o.client_id))) rows.push(...(await q().where('client_id', 'in', cids).execute()));
  return rows.map((r) => ({ id: r.id, keys: [r.client_id] }));
}

/** Rewrites the plan's ids to the stored ones (see the file comment). */
export async function resolvePlan(db: Kysely<Database>, plan: SyncPlan): Promise<SyncPlan> {
  const consumerIds = resolveIds(plan.consumers, consumerKeys, await storedConsumers(db, plan));
  const jwtIds = resolveIds(plan.jwt, (s) => [s.key], await storedJwt(db, plan));
  const oauth2Ids = resolveIds(plan.oauth2, (o) => [o.client_id], await storedOAuth2(db, plan));
  const consumerOf = (id: string) => consumerIds.get(id) ?? id;
  return {
    ...plan,
    consumers: plan.consumers.map((c) => ({ ...c, id: consumerOf(c.id) })),
    jwt: plan.jwt.map((s) => ({ ...s, id: jwtIds.get(s.id) ?? s.id, consumer_id: consumerOf(s.consumer_id) })),
    oauth2: plan.oauth2.map((o) => ({ ...o, id: oauth2Ids.get(o.id) ?? o.id, consumer_id: consumerOf(o.consumer_id) })),
  };
}
