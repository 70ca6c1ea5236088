import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { freePort, waitFor } from './ports.js';

const PG_BIN = process.env.TOLLGATE_PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface PostgresServer {
  /** postgres://… URL of the server's `postgres` database. */
  url: string;
  port: number;
  /** SIGSTOP / SIGCONT the server and its backends: a server that accepts but never answers. */
  freeze(): void;
  thaw(): void;
  stop(): Promise<void>;
}

/** The pid and every descendant's (PostgreSQL serves each connection from a child process). */
function processTree(pid: number): number[] {
  const out = [pid];
  try {
    const children = execFileSync('pgrep', ['-P', String(pid)]).toString().split('\n').filter(Boolean).map(Number);
    for (const c of children) out.push(...processTree(c));
  } catch {
    /* pgrep exits 1 when there are none */
  }
  return out;
}

function asPostgresUser(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

/**
 * Spawns a private PostgreSQL (initdb into a temp dir, trust auth, loopback, ephemeral port).
 * As root it runs the server as the `postgres` user, which PostgreSQL requires.
 */
export async function startPostgres(): Promise<PostgresServer> {
  if (!existsSync(join(PG_BIN, 'initdb'))) throw new Error(`PostgreSQL binaries not found in ${PG_BIN} (apt-get install postgresql)`);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-pg-'));
  const owner = asPostgresUser();
  if (owner) {
    chmodSync(dir, 0o700);
    chownSync(dir, owner.uid, owner.gid);
  }
  const spawnOpts = owner ? { uid: owner.uid, gid: owner.gid } : {};
  const data = join(dir, 'data');
  execFileSync(join(PG_BIN, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C'], {
    ...spawnOpts,
    stdio: 'ignore',
  });
  const child: ChildProcess = spawn(
    join(PG_BIN, 'postgres'),
    ['-D', data, '-p', String(port), '-h', '127.0.0.1', '-k', dir, '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=300'],
    { ...spawnOpts, stdio: 'ignore' },
  );
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  await waitFor(async () => {
    const c = new pg.Client({ connectionString: url });
    try {
      await c.connect();
      await c.query('select 1');
      return true;
    } finally {
      await c.end().catch(() => {});
    }
  }, `postgres on port ${port}`, 30_000, 100);
  const signalAll = (sig: NodeJS.Signals) => {
    for (const pid of processTree(child.pid!)) {
      try {
        process.kill(pid, sig);
      } catch (err) {
        // A backend that exited since it was listed (its client disconnected) needs no signal.
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
      }
    }
  };
  return {
    url,
    port,
    freeze: () => signalAll('SIGSTOP'),
    thaw: () => signalAll('SIGCONT'),
    async stop() {
      if (child.pid !== undefined) signalAll('SIGCONT');
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGINT');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The PostgreSQL for this run: TOLLGATE_TEST_DATABASE_URL or the one globalSetup started. */
export function sharedPostgresUrl(): string {
  const url = process.env.TOLLGATE_TEST_DATABASE_URL;
  if (!url) throw new Error('TOLLGATE_TEST_DATABASE_URL is not set (test/helpers/globalSetup.ts sets it)');
  return url;
}

/** Creates an empty database on the shared server and returns its URL (one per test file). */
export async function freshDatabase(prefix = 'tg'): Promise<string> {
  const base = new URL(sharedPostgresUrl());
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base.toString() });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  base.pathname = `/${name}`;
  return base.toString();
}
