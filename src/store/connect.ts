import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import type { Logger } from 'pino';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import { UserError } from '../core/errors.js';
import { StoreUnavailableError } from './errors.js';
import type { Database } from './tables.js';

/**
 * Store URLs → kysely instances. SQLite: `sqlite://./rel.db` (relative to the cwd),
 * `sqlite:///abs.db`, `sqlite::memory:`. PostgreSQL: `postgres://` or `postgresql://` (anything
 * pg's connection strings accept, e.g. `?sslmode=require`).
 */

export interface StoreOptions {
  /** PostgreSQL: give up connecting after this long (default 3000 ms). */
  connectTimeoutMs?: number;
  /** PostgreSQL: server-side statement_timeout for ordinary queries (default 10000 ms). */
  statementTimeoutMs?: number;
  /** PostgreSQL: statement_timeout while migrating, which includes waiting for another replica's migration lock (default 120000 ms). */
  migrationTimeoutMs?: number;
  /** PostgreSQL: pool size (default 10). */
  poolMax?: number;
  /** SQLite: how long a write waits for another process's lock (default 5000 ms). */
  busyTimeoutMs?: number;
  /**
   * PostgreSQL: how long a request-path read (one indexed row: a credential, a client, a
   * membership) waits for an answer before it fails as unreachable (default 3000 ms, the connect
   * timeout: a hung server costs this, not the 15 s query timeout).
   */
  lookupTimeoutMs?: number;
  /** Where the store logs becoming unreachable and reachable again (once each). */
  logger?: Logger;
}

export type StoreTarget = { kind: 'sqlite'; path: string } | { kind: 'postgres'; connectionString: string };

export interface Connection {
  kind: StoreTarget['kind'];
  /** Password-free description for logs and errors. */
  location: string;
  db: Kysely<Database>;
  /** A kysely for running migrations, released after use. */
  migrationDb(): { db: Kysely<unknown>; release(): Promise<void> };
}

const URL_HELP = 'expected sqlite://PATH, sqlite::memory: or postgres://user:pass@host:5432/db';

export function parseStoreUrl(url: string): StoreTarget {
  if (url === 'sqlite::memory:' || url === 'sqlite://:memory:') return { kind: 'sqlite', path: ':memory:' };
  if (url.startsWith('sqlite:')) {
    const raw = url.startsWith('sqlite://') ? url.slice('sqlite://'.length) : url.slice('sqlite:'.length);
    if (raw === '') throw new UserError(`gateway.store: '${url}' names no file (${URL_HELP})`);
    return { kind: 'sqlite', path: resolve(process.cwd(), raw) };
  }
  if (/^postgres(ql)?:\/\/./.test(url)) return { kind: 'postgres', connectionString: url };
  throw new UserError(`gateway.store: unsupported store URL '${redactUrl(url)}' (${URL_HELP})`);
}

/** The URL without its password (never logged). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '';
    return u.toString().replace(/:@/, '@');
  } catch {
    return url.replace(/:[^:@/]*@/, '@');
  }
}

function openSqlite(path: string, opts: StoreOptions): Connection {
  const location = `sqlite ${path}`;
  let database: BetterSqlite3.Database;
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    database = new BetterSqlite3(path);
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = NORMAL');
    database.pragma(`busy_timeout = ${Math.trunc(opts.busyTimeoutMs ?? 5000)}`);
    database.pragma('foreign_keys = ON');
  } catch (err) {
    throw new StoreUnavailableError(location, err instanceof Error ? err.message : String(err), err);
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  // One connection: migrations share it (kysely serialises access through it).
  return { kind: 'sqlite', location, db, migrationDb: () => ({ db: db as unknown as Kysely<unknown>, release: async () => {} }) };
}

function pgPool(connectionString: string, opts: StoreOptions, statementTimeoutMs: number, max: number): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 3000,
    statement_timeout: statementTimeoutMs,
    // Client-side backstop for a server that stops answering mid-query (network partition).
    query_timeout: statementTimeoutMs + 5000,
    idle_in_transaction_session_timeout: Math.max(statementTimeoutMs, 10_000),
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    application_name: 'tollgate',
  });
  // An idle client losing its server emits 'error' on the pool; unhandled, it would crash the
  // process. The next query fails and is reported as StoreUnavailableError instead.
  pool.on('error', () => {});
  return pool;
}

function openPostgres(connectionString: string, opts: StoreOptions): Connection {
  const pool = pgPool(connectionString, opts, opts.statementTimeoutMs ?? 10_000, opts.poolMax ?? 10);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    kind: 'postgres',
    location: redactUrl(connectionString),
    db,
    migrationDb() {
      const migrationPool = pgPool(connectionString, opts, opts.migrationTimeoutMs ?? 120_000, 1);
      const mdb = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: migrationPool }) });
      return { db: mdb, release: () => mdb.destroy() };
    },
  };
}

export function connect(url: string, opts: StoreOptions = {}): Connection {
  const target = parseStoreUrl(url);
  return target.kind === 'sqlite' ? openSqlite(target.path, opts) : openPostgres(target.connectionString, opts);
}
