import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshDatabase } from './postgres.js';
import type { Store } from '../../src/store/types.js';

/**
 * The store backends every contract test runs against: a SQLite file in a temp dir and an
 * empty database on the run's PostgreSQL (test/helpers/globalSetup.ts).
 */
export interface StoreBackend {
  name: 'sqlite' | 'postgres';
  /** A URL for a new, empty store; `cleanup` removes what it created. */
  freshUrl(): Promise<string>;
  cleanup(): void;
}

export function sqliteBackend(): StoreBackend {
  const dirs: string[] = [];
  return {
    name: 'sqlite',
    async freshUrl() {
      const dir = mkdtempSync(join(tmpdir(), 'tollgate-store-'));
      dirs.push(dir);
      return `sqlite://${join(dir, 'nested', 'store.db')}`;
    },
    cleanup() {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}

export function postgresBackend(): StoreBackend {
  return { name: 'postgres', freshUrl: () => freshDatabase('tg_store'), cleanup() {} };
}

export const storeBackends = (): StoreBackend[] => [sqliteBackend(), postgresBackend()];

/** Deletes every entity through the public API (credentials and members cascade). */
export async function wipeStore(store: Store): Promise<void> {
  const snap = await store.exportEntities();
  for (const c of snap.consumers) await store.consumers.delete(c.id);
  for (const w of snap.workspaces) await store.workspaces.delete(w.id);
  // Revocations outlive their clients (0003) until they expire: "far in the future" purges them.
  await store.oauth2Tokens.purgeExpired(2 ** 50);
}
