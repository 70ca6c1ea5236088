import type { Logger } from 'pino';
import type { Store } from '../store/types.js';
import type { CounterStore } from '../counters/types.js';
import type { Runtime } from '../core/runtime.js';
import type { StatusReport } from '../server/statusReport.js';
import { StoreUnavailableError } from '../store/errors.js';

/** What Admin API routes may use. */
export interface AdminContext {
  store: Store;
  counters: CounterStore;
  logger: Logger;
  runtime(): Runtime;
  status(): Promise<StatusReport>;
  /** Tells every cache on this replica that stored entities changed (after an Admin write). */
  entitiesChanged(): void;
  version: string;
}

/**
 * Runs an Admin write, then tells this replica's caches (entitiesChanged) — also when it failed
 * part way, except when the store was unreachable: then the caches are what the proxy serves
 * from until the store is back (StoreCache keeps expired entries for that), and a write
 * that could not reach the store is no reason to drop them.
 */
export async function writeThrough<T>(ctx: AdminContext, fn: () => Promise<T>): Promise<T> {
  try {
    const result = await fn();
    ctx.entitiesChanged();
    return result;
  } catch (err) {
    if (!(err instanceof StoreUnavailableError)) ctx.entitiesChanged();
    throw err;
  }
}
