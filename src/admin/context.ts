import type { Logger } from 'pino';
import type { Store } from '../store/types.js';
import type { CounterStore } from '../counters/types.js';
import type { Runtime } from '../core/runtime.js';
import type { StatusReport } from '../server/statusReport.js';

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
