import { Migrator, sql, type MigrationResultSet } from 'kysely';
import { connect, type Connection, type StoreOptions } from './connect.js';
import { StoreMigrationError, StoreUnavailableError, translateError } from './errors.js';
import { StoreHealth } from './health.js';
import { migrations } from './migrations/index.js';
import { consumersRepo } from './repos/consumers.js';
import { jwtSecretsRepo } from './repos/jwtSecrets.js';
import { oauth2CredentialsRepo } from './repos/oauth2Credentials.js';
import { oauth2TokensRepo } from './repos/oauth2Tokens.js';
import { workspacesRepo } from './repos/workspaces.js';
import { exportEntities } from './snapshotExport.js';
import { syncEntities } from './snapshotSync.js';
import type { Store } from './types.js';

export type * from './types.js';
export { DuplicateEntityError, ReferenceNotFoundError, StoreMigrationError, StoreUnavailableError } from './errors.js';
export { parseStoreUrl, redactUrl, type StoreOptions } from './connect.js';
export type { StoreHealthView } from './health.js';
export { hashSecret, isSecretHash, verifySecret } from './secretHash.js';
export { configEntities, configSnapshot, type ConfigSnapshotOptions, type ConsumerInput, type WorkspaceInput } from './configSnapshot.js';

/** Turns a migrator result into applied names, or the typed error of the first failure. */
function appliedOrThrow(result: MigrationResultSet, location: string): string[] {
  if (result.error !== undefined) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName ?? null;
    const translated = translateError(result.error, location);
    if (translated !== result.error) throw translated;
    throw new StoreMigrationError(failed, result.error);
  }
  return (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * Applies pending migrations. PostgreSQL: the migrator holds an advisory lock for the whole
 * run, so replicas starting together apply each migration once; the others wait, then find
 * nothing to do. SQLite has no such lock (kysely's is a no-op) and two processes opening one
 * file at once can collide; every migration runs in a transaction, so the loser rolls back
 * whole and its retry finds the work done.
 */
async function migrate(conn: Connection): Promise<string[]> {
  const attempts = conn.kind === 'sqlite' ? 3 : 1;
  for (let attempt = 1; ; attempt++) {
    try {
      return await migrateOnce(conn);
    } catch (err) {
      if (attempt >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 50 * attempt));
    }
  }
}

async function migrateOnce(conn: Connection): Promise<string[]> {
  const { db, release } = conn.migrationDb();
  try {
    const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
    return appliedOrThrow(await migrator.migrateToLatest(), conn.location);
  } finally {
    await release();
  }
}

/**
 * How long a health check waits for the store: a server that accepts but does not answer
 * (stopped, overloaded, a network black hole) reads as unreachable after this, well inside a
 * Kubernetes probe's 2 s timeout, instead of after the pool's 15 s query timeout.
 */
const PING_TIMEOUT_MS = 1000;

/** PostgreSQL: a request-path read's deadline (StoreOptions.lookupTimeoutMs), the connect timeout's. */
const LOOKUP_TIMEOUT_MS = 3000;

/** `pending`, or false once `ms` have passed first. */
function answerWithin(pending: Promise<boolean>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    timer.unref();
    void pending.then((ok) => {
      clearTimeout(timer);
      resolve(ok);
    });
  });
}

/**
 * Opens the store named by `url` (SQLite file or PostgreSQL; see connect.ts). Does not migrate:
 * call `store.migrate()` (the CLI's `start` and `migrations up` do). SQLite opens the file now;
 * PostgreSQL connects on first use, so an unreachable server shows up as StoreUnavailableError
 * from the first call.
 */
export async function createStore(url: string, opts: StoreOptions = {}): Promise<Store> {
  const conn = connect(url, opts);
  const health = new StoreHealth(conn.location, opts.logger);
  const lookupTimeoutMs = conn.kind === 'postgres' ? (opts.lookupTimeoutMs ?? LOOKUP_TIMEOUT_MS) : 0;
  const ctx = { db: conn.db, location: conn.location, kind: conn.kind, health, lookupTimeoutMs };
  let closed: Promise<void> | null = null;
  /** The ping in flight: concurrent probes share it, so a hung server holds one connection. */
  let pinging: Promise<boolean> | null = null;
  return {
    kind: conn.kind,
    location: conn.location,
    health,
    migrate: () => migrate(conn),
    ping(timeoutMs = PING_TIMEOUT_MS) {
      // Its outcome (not the probe's timeout) tells the health too: a ping answering after an
      // outage ends it for the caches at once.
      pinging ??= sql`select 1`.execute(conn.db).then(
        () => {
          health.succeeded();
          return true;
        },
        (err: unknown) => {
          const translated = translateError(err, conn.location);
          if (translated instanceof StoreUnavailableError) health.failed(translated);
          return false;
        },
      ).finally(() => {
        pinging = null;
      });
      return answerWithin(pinging, timeoutMs);
    },
    close() {
      closed ??= conn.db.destroy();
      return closed;
    },
    consumers: consumersRepo(ctx),
    jwtSecrets: jwtSecretsRepo(ctx),
    oauth2Credentials: oauth2CredentialsRepo(ctx),
    workspaces: workspacesRepo(ctx),
    oauth2Tokens: oauth2TokensRepo(ctx),
    exportEntities: () => exportEntities(ctx),
    syncEntities: (snapshot, syncOpts) => syncEntities(ctx, snapshot, syncOpts),
  };
}
