/**
 * Counter backends: one small interface, a memory and a Redis implementation (src/counters/).
 * A request's claims (every rate-limit window and token-budget reservation that applies to it)
 * are admitted in ONE call, atomically and all-or-nothing: a request refused by one claim
 * consumes nothing from the others. The Redis backend does it in one round trip (a Lua script).
 * Semantics, key layout and failure behaviour: src/counters/README.md.
 *
 * All counts (limit, cost, amount, actual) are non-negative integers.
 */

/** A request-count window (rate-limiting). */
export interface WindowClaim {
  kind: 'window';
  /** Counter key, unique per plugin instance + identifier + period (backend adds its prefix). */
  key: string;
  limit: number;
  /** Window length; windows are aligned to the Unix epoch (a `day` window starts at 00:00 UTC). */
  windowMs: number;
  /**
   * `fixed`: one counter per window. `sliding`: the two-window weighted estimate
   * `previous × (1 − elapsed/windowMs) + current` (Kong, Cloudflare); see README.md.
   */
  type: 'sliding' | 'fixed';
  /** Requests consumed; 1 for rate limits. */
  cost: number;
  /** `local`: in-process only; `redis`: shared through Redis (falls back when allowed). */
  policy: 'local' | 'redis';
  /** When Redis is unreachable: true = count in-process, false = the request fails (503). */
  faultTolerant: boolean;
}

/** A token-budget reservation: admitted while used + reserved + amount <= limit. */
export interface BudgetClaim {
  kind: 'budget';
  /** Budget key for one workspace and one budget period (the period is part of the key). */
  key: string;
  limit: number;
  /** Tokens to reserve now; replaced by real usage through `settle`. */
  amount: number;
  /** Unique id of this reservation (the request id). Admitting it again replaces it. */
  reservationId: string;
  /** When the budget period ends (ms since epoch); keys expire after it (+ 1 h margin). */
  periodEndMs: number;
  /** A reservation not settled within this many ms is dropped (crashed replica). */
  reservationTtlMs: number;
  policy: 'local' | 'redis';
  faultTolerant: boolean;
}

export type Claim = WindowClaim | BudgetClaim;

/**
 * State of one claim after admission; when the request was refused, the state as it stands
 * (nothing was consumed).
 */
export interface ClaimState {
  limit: number;
  /**
   * Windows: units left right now, floor(limit − count) (requests, as cost is 1 for rate limits;
   * 0 when exhausted); budgets: limit − used − reserved (never below 0).
   */
  remaining: number;
  /**
   * Milliseconds until the claim frees capacity, measured on the backend's clock (Redis server
   * time for Redis claims). Fixed windows: until the window ends. Sliding windows: when the next
   * request of the same cost would be refused, until it would be admitted again; otherwise until
   * the current window ends. Budgets: until `periodEndMs`. Use it for Retry-After and
   * X-RateLimit-Reset (`now + resetMs`).
   */
  resetMs: number;
  /** Budgets only: tokens used (settled) and reserved in flight. */
  used?: number;
  reserved?: number;
}

export interface AdmitResult {
  admitted: boolean;
  /** Index of the first claim that refused, or -1. */
  refusedIndex: number;
  /** One state per claim, aligned with the claims array. */
  states: ClaimState[];
  /** True when a Redis-policy claim was served in-process because Redis is unreachable. */
  degraded: boolean;
  /**
   * When the decision was made, on the deciding counters' clock (Redis's own time for Redis
   * claims): `resetMs` values count from it (ms since epoch).
   */
  nowMs: number;
}

export interface BudgetUsage {
  used: number;
  reserved: number;
}

export interface CounterStore {
  /** Admits all claims or none. Throws CountersUnavailableError when it cannot decide. */
  admit(claims: Claim[]): Promise<AdmitResult>;
  /**
   * The same admission without a promise when it needs no I/O (every claim served in-process),
   * else null: then call `admit`. Lets the request path stay synchronous for local limits.
   */
  admitNow?(claims: Claim[]): AdmitResult | null;
  /** `settle` without a promise when it needs no I/O, else null. */
  settleNow?(claim: BudgetClaim, actual: number): BudgetUsage | null;
  /** `release` without a promise when it needs no I/O, else null. */
  releaseNow?(claim: BudgetClaim): BudgetUsage | null;
  /**
   * Replaces a reservation with the real usage (`actual` tokens, counted in full even when it
   * exceeds the reservation or the reservation already lapsed); returns the new totals.
   */
  settle(claim: BudgetClaim, actual: number): Promise<BudgetUsage>;
  /** Drops a reservation without charging (the request failed before reaching the model). */
  release(claim: BudgetClaim): Promise<BudgetUsage>;
  /**
   * Extends reservations whose response is still streaming to `reservationTtlMs` from now, so a
   * response that outlives the TTL keeps its tokens reserved. Only reservations still held are
   * extended (one settled, released, lapsed or reset is not brought back). Returns how many were.
   */
  renew(claims: readonly BudgetClaim[]): Promise<number>;
  /** Current totals of a budget key (reservations past their TTL are not counted). */
  budgetUsage(key: string, policy: 'local' | 'redis'): Promise<BudgetUsage>;
  /** Clears a budget key's usage and reservations (Admin API `POST /workspaces/{id}/usage/reset`). */
  resetBudget(key: string, policy: 'local' | 'redis'): Promise<void>;
  /** True when the shared backend answers (always true for memory only). For /health/ready. */
  ping(): Promise<boolean>;
  /** Stops timers and quits the Redis connection; the store must not be used afterwards. */
  close(): Promise<void>;
}

export class CountersUnavailableError extends Error {
  readonly code = 'TG_COUNTERS_DOWN';
  constructor(cause?: unknown) {
    super('rate-limit counters are unreachable', cause === undefined ? undefined : { cause });
    this.name = 'CountersUnavailableError';
  }
}
