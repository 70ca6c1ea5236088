/**
 * Counter backends for rate limits and token budgets (README.md beside this file).
 *
 *   const counters = createCounterStore({ redisUrl: config.gateway.redis, logger });
 *   const result = await counters.admit(claims); // all or nothing
 */
import { RoutedCounterStore, type CounterStoreOptions } from './routedStore.js';

export type { CounterStoreOptions } from './routedStore.js';
export { RoutedCounterStore } from './routedStore.js';
export { MemoryCounterStore, type Clock, type MemoryCounterStoreOptions } from './memory.js';
export * from './types.js';

/**
 * The gateway's counter store: in-process counters, plus Redis when `redisUrl` is set. Returns
 * at once; the Redis connection is made in the background (`waitReady()` to await it). Until it
 * is up, `redis` claims behave as during an outage (README.md, "Failure behaviour").
 */
export function createCounterStore(opts: CounterStoreOptions = {}): RoutedCounterStore {
  return new RoutedCounterStore(opts);
}
