import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../test/helpers/ports.js';
import { freshDatabase } from '../../test/helpers/postgres.js';
import { storeBackends } from '../../test/helpers/stores.js';
import { UserError } from '../core/errors.js';
import { configSnapshot } from './configSnapshot.js';
import { createStore, parseStoreUrl, StoreUnavailableError } from './index.js';
import { migrations } from './migrations/index.js';
import type { Store } from './types.js';

/** Opening, migrating and failing: URLs, idempotent and concurrent migrations, unreachable databases. */

const ALL = Object.keys(migrations).sort();

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => null,
    (e: unknown) => e,
  );
}

describe.each(storeBackends())('migrations ($name)', (backend) => {
  afterAll(() => backend.cleanup());

  it('migrate applies everything once, then nothing, from any instance', async () => {
    const url = await backend.freshUrl();
    const a = await createStore(url);
    const b = await createStore(url);
    try {
      expect(await a.migrate()).toEqual(ALL);
      expect(await a.migrate()).toEqual([]);
      expect(await b.migrate()).toEqual([]);
      expect(await b.consumers.list()).toEqual([]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('instances migrating one database at the same moment apply each migration exactly once', async () => {
    const url = await backend.freshUrl();
    const stores = await Promise.all(Array.from({ length: 4 }, () => createStore(url)));
    try {
      const applied = await Promise.all(stores.map((s) => s.migrate()));
      expect(applied.flat().sort()).toEqual(ALL);
      expect(applied.filter((names) => names.length > 0)).toHaveLength(1);
      for (const s of stores) expect(await s.consumers.list()).toEqual([]);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('close is idempotent', async () => {
    const s = await createStore(await backend.freshUrl());
    await s.close();
    await s.close();
  });
});

describe('sqlite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-sqlite-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('parses file and memory URLs; relative paths resolve against the cwd', () => {
    expect(parseStoreUrl('sqlite://./data/t.db')).toEqual({ kind: 'sqlite', path: resolve(process.cwd(), 'data/t.db') });
    expect(parseStoreUrl('sqlite:///var/lib/t.db')).toEqual({ kind: 'sqlite', path: '/var/lib/t.db' });
    expect(parseStoreUrl('sqlite::memory:')).toEqual({ kind: 'sqlite', path: ':memory:' });
    expect(parseStoreUrl('postgresql://u:p@h:5432/db')).toEqual({ kind: 'postgres', connectionString: 'postgresql://u:p@h:5432/db' });
  });

  it('refuses an unsupported URL with a one-line user error, password redacted', () => {
    const err = (() => {
      try {
        parseStoreUrl('mysql://root:hunter2@db/x');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(UserError);
    expect(String((err as UserError).message)).toMatch(/^gateway\.store: unsupported store URL 'mysql:\/\/root@db\/x'/);
  });

  it('creates the parent directory and uses WAL, foreign keys and a busy timeout', async () => {
    const file = join(dir, 'deep', 'er', 'store.db');
    const s = await createStore(`sqlite://${file}`);
    await s.migrate();
    await s.close();
    const raw = new BetterSqlite3(file, { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    raw.close();
    const s2 = await createStore(`sqlite://${file}`, { busyTimeoutMs: 1234 });
    expect(s2.location).toBe(`sqlite ${file}`);
    await s2.close();
  });

  it('an in-memory store works and is private to its instance', async () => {
    const a = await createStore('sqlite::memory:');
    const b = await createStore('sqlite::memory:');
    await a.migrate();
    await b.migrate();
    await a.consumers.create({ username: 'only-in-a', custom_id: null, tags: [] });
    expect(await b.consumers.get('only-in-a')).toBeNull();
    await a.close();
    await b.close();
  });

  it('an unusable path is StoreUnavailableError naming the file', async () => {
    const err = await rejection(createStore('sqlite:///dev/null/cannot/store.db'));
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as Error).message).toContain('/dev/null/cannot/store.db');
  });
});

describe('postgres', () => {
  const sockets: Socket[] = [];
  let blackhole: Server | null = null;
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => (blackhole ? blackhole.close(r) : r(null)));
  });

  it('replicas syncing the same config at the same moment both succeed with one set of rows', async () => {
    const url = await freshDatabase('tg_sync');
    const stores = await Promise.all(Array.from({ length: 3 }, () => createStore(url)));
    try {
      await stores[0].migrate();
      const snap = await configSnapshot({
        consumers: Array.from({ length: 20 }, (_, i) => ({
          username: `user-${i}`,
          tags: [],
          jwt_secrets: [{ key: `key-${i}`, algorithm: 'HS256' as const, secret: 'x', tags: [] }],
          oauth2_credentials: [],
        })),
        workspaces: [{ id: 'team', token_budget_day: 10, members: ['a', 'b'] }],
      });
      await Promise.all(stores.map((s) => s.syncEntities(snap, { source: 'config', mode: 'replace' })));
      const out = await stores[1].exportEntities();
      expect(out.consumers).toHaveLength(20);
      expect(out.consumers.map((c) => c.id).sort()).toEqual(snap.consumers.map((c) => c.id).sort());
      expect(out.workspaces[0].members.sort()).toEqual(['a', 'b']);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('a closed port is StoreUnavailableError at once, with the password redacted', async () => {
    const port = await freePort();
    const s = await createStore(`postgres://tollgate:hunter2@127.0.0.1:${port}/tollgate`);
    const started = Date.now();
    const err = await rejection(s.migrate());
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect(err).toMatchObject({ code: 'TG_STORE_DOWN', status: 503, expose: false });
    expect((err as Error).message).toContain(`127.0.0.1:${port}`);
    expect((err as Error).message).not.toContain('hunter2');
    await expect(s.consumers.get('alice')).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(s.jwtSecrets.getByKey('k')).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(await s.ping()).toBe(false);
    expect(Date.now() - started).toBeLessThan(3000);
    await s.close();
  });

  it('a server that accepts but never answers is StoreUnavailableError within the connect timeout', async () => {
    blackhole = createServer((sock) => sockets.push(sock));
    await new Promise<void>((r) => blackhole?.listen(0, '127.0.0.1', r));
    const addr = blackhole.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    const s = await createStore(`postgres://postgres@127.0.0.1:${port}/x`, { connectTimeoutMs: 1000 });
    const started = Date.now();
    await expect(s.workspaces.isMember('w', 'u')).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(s.migrate()).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(Date.now() - started).toBeLessThan(5000);
    await s.close();
  });

  it('a query blocked past statement_timeout is StoreUnavailableError, not a hang', async () => {
    const url = await freshDatabase('tg_timeout');
    const s: Store = await createStore(url, { statementTimeoutMs: 500 });
    await s.migrate();
    const locker = new pg.Client({ connectionString: url });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query('lock table consumers in access exclusive mode');
      const started = Date.now();
      await expect(s.consumers.list()).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await locker.query('rollback');
      await locker.end();
      await s.close();
    }
  });
});
