/**
 * The CounterStore the gateway uses: routes each claim by its `policy` (`local` → memory,
 * `redis` → Redis) and keeps a request's admission all-or-nothing across both.
 *
 * - No Redis configured: `redis` claims are served in-process (one replica needs nothing else).
 * - Redis unreachable: fault-tolerant `redis` claims are served in-process (`degraded: true`);
 *   a non-fault-tolerant one makes the call throw CountersUnavailableError, without waiting.
 * - Claims of both policies in one call: the local part is committed first (synchronously);
 *   then the Redis part is admitted in one round trip (only checked, if the local part already
 *   refuses). If Redis refuses or fails, the local part is undone when its answer arrives: for
 *   that round trip its slots are held tentatively (src/counters/README.md says why here and
 *   not in Redis).
 */
import type { Logger } from 'pino';
import { MemoryCounterStore, type Clock } from './memory.js';
import { RedisCounters } from './redis.js';
import type { RedisAdmission, Settlement } from './redisCodec.js';

/** Settlements kept for Redis while it cannot be reached, at most (then the oldest goes). */
const MAX_UNSETTLED = 10_000;
/** How often they are sent again. */
const RETRY_SETTLE_MS = 1000;
import { CountersUnavailableError, type AdmitResult, type BudgetClaim, type BudgetUsage, type Claim, type ClaimState, type CounterStore } from './types.js';

export interface CounterStoreOptions {
  /** `redis://host:6379/0` (or `rediss://`); omitted = in-process counters only. */
  redisUrl?: string | undefined;
  /** Prefix of every Redis key. Default `tollgate:`. */
  keyPrefix?: string | undefined;
  logger?: Logger | undefined;
  /** Clock of the in-process counters (ms since epoch); Redis always uses its own time. */
  clock?: Clock | undefined;
  /** Redis command timeout (ms). Default 250. */
  commandTimeoutMs?: number | undefined;
  /** Redis connect timeout (ms). Default 1000. */
  connectTimeoutMs?: number | undefined;
  /** Sweep interval of the in-process counters (ms). Default 60 000. */
  sweepIntervalMs?: number | undefined;
}

export class RoutedCounterStore implements CounterStore {
  readonly memory: MemoryCounterStore;
  readonly #redis: RedisCounters | null;
  readonly #logger: Logger | undefined;
  /** Settlements that could not reach Redis, oldest first, sent again every second. */
  readonly #unsettled: Settlement[] = [];
  #retryTimer: NodeJS.Timeout | null = null;

  constructor(opts: CounterStoreOptions = {}) {
    this.memory = new MemoryCounterStore({ clock: opts.clock, sweepIntervalMs: opts.sweepIntervalMs });
    this.#logger = opts.logger;
    this.#redis = opts.redisUrl
      ? new RedisCounters({
          url: opts.redisUrl,
          keyPrefix: opts.keyPrefix ?? 'tollgate:',
          logger: opts.logger,
          commandTimeoutMs: opts.commandTimeoutMs,
          connectTimeoutMs: opts.connectTimeoutMs,
        })
      : null;
  }

  /** True while Redis is configured but unreachable (redis claims are served in-process). */
  get degraded(): boolean {
    return this.#redis !== null && !this.#redis.available;
  }

  /** Resolves true once Redis is connected (at once without Redis), false after `timeoutMs`. */
  async waitReady(timeoutMs = 2000): Promise<boolean> {
    return this.#redis ? this.#redis.waitReady(timeoutMs) : true;
  }

  admitNow(claims: Claim[]): AdmitResult | null {
    for (const c of claims) if (!this.#inProcessOnly(c)) return null;
    return this.memory.admitSync(claims);
  }

  settleNow(claim: BudgetClaim, actual: number): BudgetUsage | null {
    return this.#inProcessOnly(claim) ? this.memory.settleSync(claim, actual) : null;
  }

  releaseNow(claim: BudgetClaim): BudgetUsage | null {
    return this.#inProcessOnly(claim) ? this.memory.releaseSync(claim) : null;
  }

  /** A `local` claim, or any claim without Redis configured: served in-process, no I/O. */
  #inProcessOnly(claim: Claim): boolean {
    return claim.policy === 'local' || this.#redis === null;
  }

  async admit(claims: Claim[]): Promise<AdmitResult> {
    let shared = 0;
    let strict = false;
    for (const c of claims) {
      if (c.policy === 'redis') {
        shared++;
        if (!c.faultTolerant) strict = true;
      }
    }
    const redis = this.#redis;
    if (shared === 0 || redis === null) return this.memory.admitSync(claims);
    if (!redis.available) return this.#inProcess(claims, strict, undefined);
    if (shared < claims.length) return this.#admitMixed(redis, claims, strict);
    try {
      return await redis.admit(claims, true);
    } catch (err) {
      return this.#inProcess(claims, strict, err);
    }
  }

  async settle(claim: BudgetClaim, actual: number): Promise<BudgetUsage> {
    const now = this.settleNow(claim, actual);
    if (now !== null) return now;
    const redis = this.#redis!;
    try {
      const usage = await redis.settle(claim, actual);
      // Admitted in-process during an outage that has since ended: drop that reservation too.
      this.memory.releaseSync(claim);
      return usage;
    } catch (err) {
      // The reservation (if it was made in Redis) is still there, holding the budget, and the
      // tokens are spent: sent again once Redis answers (charged only while it is held).
      this.#settleLater(claim, actual);
      if (!claim.faultTolerant) throw err;
      return this.memory.settleSync(claim, actual);
    }
  }

  #settleLater(claim: BudgetClaim, actual: number): void {
    if (this.#unsettled.length >= MAX_UNSETTLED) {
      this.#unsettled.shift();
      this.#logger?.warn({ kept: MAX_UNSETTLED }, 'Redis counters: too many settlements waiting for Redis; the oldest is dropped (its reservation lapses after its TTL)');
    }
    this.#unsettled.push({ claim, actual });
    if (this.#retryTimer === null) {
      this.#retryTimer = setInterval(() => void this.#settleAgain(), RETRY_SETTLE_MS);
      this.#retryTimer.unref();
    }
  }

  async #settleAgain(): Promise<void> {
    const redis = this.#redis;
    if (redis === null || !redis.available || this.#unsettled.length === 0) return;
    const batch = this.#unsettled.splice(0, 128);
    try {
      await redis.settleAgain(batch);
    } catch {
      this.#unsettled.unshift(...batch);
      return;
    }
    if (this.#unsettled.length === 0 && this.#retryTimer !== null) {
      clearInterval(this.#retryTimer);
      this.#retryTimer = null;
    }
  }

  async release(claim: BudgetClaim): Promise<BudgetUsage> {
    const now = this.releaseNow(claim);
    if (now !== null) return now;
    const redis = this.#redis!;
    const local = this.memory.releaseSync(claim);
    try {
      return await redis.release(claim);
    } catch (err) {
      // As for a settlement: the reservation would otherwise hold the shared budget for its
      // TTL. Settled again with 0 once Redis answers (drops it, charges nothing).
      this.#settleLater(claim, 0);
      if (!claim.faultTolerant) throw err;
      return local;
    }
  }

  /**
   * In-process reservations are renewed at once (among them `redis` ones admitted during an
   * outage); `redis` ones in Redis too. Throws CountersUnavailableError while Redis is
   * unreachable (the caller tries again at its next round).
   */
  async renew(claims: readonly BudgetClaim[]): Promise<number> {
    let held = this.memory.renewSync(claims);
    const redis = this.#redis;
    if (redis === null) return held;
    const shared = claims.filter((c) => c.policy === 'redis');
    if (shared.length > 0) held += await redis.renew(shared);
    return held;
  }

  /** Throws CountersUnavailableError for a `redis` key while Redis is unreachable. */
  async budgetUsage(key: string, policy: 'local' | 'redis'): Promise<BudgetUsage> {
    if (policy === 'local' || this.#redis === null) return this.memory.usageSync(key, policy);
    return this.#redis.usage(key);
  }

  /** Clears the key in-process and, for `redis` keys, in Redis (throws while unreachable). */
  async resetBudget(key: string, policy: 'local' | 'redis'): Promise<void> {
    this.memory.resetSync(key, policy);
    if (policy === 'redis' && this.#redis !== null) await this.#redis.reset(key);
  }

  async ping(): Promise<boolean> {
    return this.#redis ? this.#redis.ping() : true;
  }

  async close(): Promise<void> {
    if (this.#retryTimer !== null) clearInterval(this.#retryTimer);
    this.#retryTimer = null;
    await this.#settleAgain().catch(() => undefined); // one last try for what is waiting
    await this.memory.close();
    await this.#redis?.close();
  }

  /** Serves a call in-process because Redis cannot (or throws when a claim must not be). */
  #inProcess(claims: Claim[], strict: boolean, cause: unknown): AdmitResult {
    if (strict) throw cause instanceof CountersUnavailableError ? cause : new CountersUnavailableError(cause);
    const result = this.memory.admitSync(claims);
    result.degraded = true;
    return result;
  }

  async #admitMixed(redis: RedisCounters, claims: Claim[], strict: boolean): Promise<AdmitResult> {
    const sharedClaims: Claim[] = [];
    const localClaims: Claim[] = [];
    const sharedAt: number[] = [];
    const localAt: number[] = [];
    for (let n = 0; n < claims.length; n++) {
      if (claims[n].policy === 'redis') {
        sharedClaims.push(claims[n]);
        sharedAt.push(n);
      } else {
        localClaims.push(claims[n]);
        localAt.push(n);
      }
    }
    // The in-process part is committed first: it is synchronous, so the other requests of this
    // event-loop turn see it at once, and a request it refuses never takes Redis slots (which
    // other callers would be refused for until a rollback). If Redis then refuses, or fails,
    // the in-process part is undone at once (SPEC §7: a refused request consumes nothing).
    const at = this.memory.now();
    const local = this.memory.admitSync(localClaims, true, at);
    let remote: RedisAdmission;
    try {
      remote = await redis.admit(sharedClaims, local.admitted);
    } catch (err) {
      if (local.admitted) this.memory.rollbackSync(localClaims, at);
      return this.#inProcess(claims, strict, err);
    }
    if (!local.admitted) return merge(claims.length, remote, sharedAt, local, localAt);
    if (!remote.admitted) {
      this.memory.rollbackSync(localClaims, at);
      return merge(claims.length, remote, sharedAt, this.memory.admitSync(localClaims, false), localAt);
    }
    return merge(claims.length, remote, sharedAt, local, localAt);
  }
}

/** Joins the Redis and in-process parts of a call back into claim order. */
function merge(count: number, a: AdmitResult, aAt: number[], b: AdmitResult, bAt: number[]): AdmitResult {
  const states = new Array<ClaimState>(count);
  for (let n = 0; n < aAt.length; n++) states[aAt[n]] = a.states[n];
  for (let n = 0; n < bAt.length; n++) states[bAt[n]] = b.states[n];
  const ra = a.refusedIndex < 0 ? count : aAt[a.refusedIndex];
  const rb = b.refusedIndex < 0 ? count : bAt[b.refusedIndex];
  const first = Math.min(ra, rb);
  const admitted = a.admitted && b.admitted;
  return { admitted, refusedIndex: admitted ? -1 : first < count ? first : -1, states, degraded: false, nowMs: a.nowMs };
}
