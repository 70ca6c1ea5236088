import type { Logger } from 'pino';
import { StoreUnavailableError } from './errors.js';

/** The wait after a failed probe before the next one; it doubles per failure up to the max. */
const PROBE_BACKOFF_MS = 250;
const PROBE_BACKOFF_MAX_MS = 2000;

/** What request-path caches need to know of the store's state (the `Store.health` slot). */
export interface StoreHealthView {
  /** False from a query failing as StoreUnavailableError until one succeeds. */
  readonly reachable: boolean;
  /**
   * Runs `run(key)` while the store is reachable. While it is not: runs it as the one probe
   * when none is running and the backoff has passed; else returns null (the caller answers
   * from what it holds, or with `error()`, without waiting for the store).
   */
  attempt<T>(run: (key: string) => Promise<T>, key: string): Promise<T> | null;
  /** The failure that made the store unreachable (the latest one). */
  error(): StoreUnavailableError;
}

/**
 * This replica's knowledge of the store's reachability, from the outcome of its own queries
 * (guard.ts reports every repository call; the health ping too): unreachable from a query that
 * failed or timed out as StoreUnavailableError until one succeeds. Each change is logged once,
 * not per request. While the store is down, one probe at a time (a real lookup a cache
 * chose to run) tries it again after a short backoff (250 ms doubling to 2 s); everything
 * else answers at once from what it has, so a hung database costs one wait, not one per request.
 */
export class StoreHealth implements StoreHealthView {
  #reachable = true;
  #error: StoreUnavailableError;
  #downSince = 0;
  #probing = false;
  #nextProbeAt = 0;
  #backoffMs = PROBE_BACKOFF_MS;

  constructor(
    private readonly location: string,
    private readonly logger: Logger | undefined,
  ) {
    this.#error = new StoreUnavailableError(location, 'not reachable');
  }

  get reachable(): boolean {
    return this.#reachable;
  }

  error(): StoreUnavailableError {
    return this.#error;
  }

  /** A query succeeded. */
  succeeded(): void {
    if (this.#reachable) return;
    this.#reachable = true;
    this.#backoffMs = PROBE_BACKOFF_MS;
    this.#nextProbeAt = 0;
    this.logger?.info({ store: this.location, down_ms: Date.now() - this.#downSince }, 'store reachable again: cached entities refresh normally');
  }

  /** A query failed or timed out as StoreUnavailableError. */
  failed(err: StoreUnavailableError): void {
    this.#error = err;
    if (!this.#reachable) return;
    this.#reachable = false;
    this.#downSince = Date.now();
    this.#nextProbeAt = this.#downSince + this.#backoffMs;
    this.logger?.warn({ store: this.location, err: err.reason }, 'store unreachable: cached entities keep serving, uncached lookups answer 503 until it answers again');
  }

  attempt<T>(run: (key: string) => Promise<T>, key: string): Promise<T> | null {
    if (this.#reachable) return run(key);
    if (this.#probing || Date.now() < this.#nextProbeAt) return null;
    this.#probing = true;
    const probe = run(key);
    probe.then(this.#probed, this.#probed);
    return probe;
  }

  readonly #probed = (): void => {
    this.#probing = false;
    if (this.#reachable) return;
    this.#nextProbeAt = Date.now() + this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, PROBE_BACKOFF_MAX_MS);
  };
}
