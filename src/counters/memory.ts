/**
 * In-process counters: the `local` policy, and `redis`-policy claims when no Redis is configured
 * or while it is unreachable (kept in a separate namespace, so a key never mixes the two).
 * Every operation is synchronous, so check-and-commit cannot interleave with another request:
 * that is the whole atomicity argument within one process.
 *
 * Memory stays bounded: entries carry their expiry, reads ignore and replace expired ones, and
 * an unref'd timer sweeps them (every `sweepIntervalMs`).
 */
import type { AdmitResult, BudgetClaim, BudgetUsage, Claim, ClaimState, CounterStore, WindowClaim } from './types.js';
import { BUDGET_KEY_MARGIN_MS, rollWindow, slidingEstimate, slidingResetMs, type Rolled } from './windowMath.js';

/** Milliseconds since the Unix epoch (injectable for tests). */
export type Clock = () => number;

export interface MemoryCounterStoreOptions {
  clock?: Clock;
  /** How often expired entries are swept; 0 disables the timer. Default 60 s. */
  sweepIntervalMs?: number;
}

interface WindowEntry {
  /** Current window index, its count, and the previous window's count (see windowMath.ts). */
  i: number;
  c: number;
  p: number;
  expiresAt: number;
}

interface Reservation {
  amount: number;
  expiresAt: number;
}

interface BudgetEntry {
  used: number;
  reserved: number;
  reservations: Map<string, Reservation>;
  /** Earliest reservation expiry: reservations are scanned only once it has passed. */
  nextExpiry: number;
  expiresAt: number;
}

interface Namespace {
  windows: Map<string, WindowEntry>;
  budgets: Map<string, BudgetEntry>;
}

const ZERO: Readonly<Rolled> = { cur: 0, prev: 0 };

export class MemoryCounterStore implements CounterStore {
  readonly #clock: Clock;
  readonly #local: Namespace = { windows: new Map(), budgets: new Map() };
  /** `redis`-policy claims served in-process. */
  readonly #shared: Namespace = { windows: new Map(), budgets: new Map() };
  readonly #rolled: Rolled = { cur: 0, prev: 0 };
  #timer: NodeJS.Timeout | null = null;

  constructor(opts: MemoryCounterStoreOptions = {}) {
    this.#clock = opts.clock ?? Date.now;
    const every = opts.sweepIntervalMs ?? 60_000;
    if (every > 0) {
      this.#timer = setInterval(() => this.sweep(), every);
      this.#timer.unref();
    }
  }

  /**
   * Admits all claims or none (`commit` false: only tells whether it would, consuming nothing).
   * Synchronous: nothing else runs between the check and the commit.
   */
  admitSync(claims: readonly Claim[], commit = true, now = this.#clock()): AdmitResult {
    let refusedIndex = -1;
    for (let n = 0; n < claims.length; n++) {
      const claim = claims[n];
      const fits = claim.kind === 'window' ? this.#windowFits(claim, now) : this.#budgetFits(claim, now);
      if (!fits) {
        refusedIndex = n;
        break;
      }
    }
    const write = commit && refusedIndex < 0;
    const states = new Array<ClaimState>(claims.length);
    for (let n = 0; n < claims.length; n++) {
      const claim = claims[n];
      states[n] = claim.kind === 'window' ? this.#windowApply(claim, now, write) : this.#budgetApply(claim, now, write);
    }
    return { admitted: refusedIndex < 0, refusedIndex, states, degraded: false, nowMs: now };
  }

  /** The store's clock (ms): pass it to admitSync and rollbackSync to pair an admission with its undo. */
  now(): number {
    return this.#clock();
  }

  /**
   * Undoes an admission committed at `atMs` (a mixed call's local part when Redis refused): windows lose
   * the claim's cost in the window it counted in (or the previous slot, if the window rolled
   * since), never below 0; budgets drop the reservation.
   */
  rollbackSync(claims: readonly Claim[], atMs: number): void {
    for (const claim of claims) {
      if (claim.kind !== 'window') {
        this.releaseSync(claim);
        continue;
      }
      const entry = this.#ns(claim.policy).windows.get(claim.key);
      if (!entry) continue;
      const idx = Math.floor(atMs / claim.windowMs);
      if (entry.i === idx) entry.c = Math.max(0, entry.c - claim.cost);
      else if (entry.i === idx + 1) entry.p = Math.max(0, entry.p - claim.cost);
    }
  }

  settleSync(claim: BudgetClaim, actual: number): BudgetUsage {
    const now = this.#clock();
    const ns = this.#ns(claim.policy);
    const b = this.#budget(ns, claim.key, now) ?? this.#newBudget(ns, claim.key);
    this.#dropReservation(b, claim.reservationId);
    b.used += actual;
    b.expiresAt = Math.max(claim.periodEndMs, now + claim.reservationTtlMs) + BUDGET_KEY_MARGIN_MS;
    return { used: b.used, reserved: b.reserved };
  }

  releaseSync(claim: BudgetClaim): BudgetUsage {
    const b = this.#budget(this.#ns(claim.policy), claim.key, this.#clock());
    if (!b) return { used: 0, reserved: 0 };
    this.#dropReservation(b, claim.reservationId);
    return { used: b.used, reserved: b.reserved };
  }

  /** See CounterStore.renew. */
  renewSync(claims: readonly BudgetClaim[]): number {
    const now = this.#clock();
    let held = 0;
    for (const claim of claims) {
      const b = this.#budget(this.#ns(claim.policy), claim.key, now);
      const r = b?.reservations.get(claim.reservationId);
      if (b === undefined || r === undefined) continue;
      held++;
      // Only later: nextExpiry stays a lower bound, which is all the purge needs.
      r.expiresAt = now + claim.reservationTtlMs;
      b.expiresAt = Math.max(b.expiresAt, Math.max(claim.periodEndMs, r.expiresAt) + BUDGET_KEY_MARGIN_MS);
    }
    return held;
  }

  usageSync(key: string, policy: 'local' | 'redis'): BudgetUsage {
    const b = this.#budget(this.#ns(policy), key, this.#clock());
    return b ? { used: b.used, reserved: b.reserved } : { used: 0, reserved: 0 };
  }

  resetSync(key: string, policy: 'local' | 'redis'): void {
    this.#ns(policy).budgets.delete(key);
  }

  /** Drops expired windows, budgets and reservations (also run by the timer). */
  sweep(): void {
    const now = this.#clock();
    for (const ns of [this.#local, this.#shared]) {
      for (const [key, w] of ns.windows) if (w.expiresAt <= now) ns.windows.delete(key);
      for (const [key, b] of ns.budgets) {
        if (b.expiresAt <= now) ns.budgets.delete(key);
        else if (b.nextExpiry <= now) purgeReservations(b, now);
      }
    }
  }

  /** Number of live entries (windows + budgets), for tests and metrics. */
  size(): number {
    return this.#local.windows.size + this.#local.budgets.size + this.#shared.windows.size + this.#shared.budgets.size;
  }

  admitNow(claims: Claim[]): AdmitResult {
    return this.admitSync(claims);
  }

  settleNow(claim: BudgetClaim, actual: number): BudgetUsage {
    return this.settleSync(claim, actual);
  }

  releaseNow(claim: BudgetClaim): BudgetUsage {
    return this.releaseSync(claim);
  }

  async admit(claims: Claim[]): Promise<AdmitResult> {
    return this.admitSync(claims);
  }

  async settle(claim: BudgetClaim, actual: number): Promise<BudgetUsage> {
    return this.settleSync(claim, actual);
  }

  async release(claim: BudgetClaim): Promise<BudgetUsage> {
    return this.releaseSync(claim);
  }

  async renew(claims: readonly BudgetClaim[]): Promise<number> {
    return this.renewSync(claims);
  }

  async budgetUsage(key: string, policy: 'local' | 'redis'): Promise<BudgetUsage> {
    return this.usageSync(key, policy);
  }

  async resetBudget(key: string, policy: 'local' | 'redis'): Promise<void> {
    this.resetSync(key, policy);
  }

  async ping(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  #ns(policy: 'local' | 'redis'): Namespace {
    return policy === 'redis' ? this.#shared : this.#local;
  }

  #roll(entry: WindowEntry | undefined, idx: number): Readonly<Rolled> {
    return entry ? rollWindow(entry.i, entry.c, entry.p, idx, this.#rolled) : ZERO;
  }

  #windowFits(claim: WindowClaim, now: number): boolean {
    const w = claim.windowMs;
    const idx = Math.floor(now / w);
    const r = this.#roll(this.#ns(claim.policy).windows.get(claim.key), idx);
    if (claim.type === 'fixed') return r.cur + claim.cost <= claim.limit;
    return slidingEstimate(r.cur, r.prev, now - idx * w, w) + claim.cost <= claim.limit;
  }

  #windowApply(claim: WindowClaim, now: number, write: boolean): ClaimState {
    const w = claim.windowMs;
    const idx = Math.floor(now / w);
    const elapsed = now - idx * w;
    const windows = this.#ns(claim.policy).windows;
    const entry = windows.get(claim.key);
    const r = this.#roll(entry, idx);
    const prev = r.prev;
    let cur = r.cur;
    const sliding = claim.type === 'sliding';
    if (write) {
      cur += claim.cost;
      const expiresAt = now + (w - elapsed) + (sliding ? w : 0);
      if (entry) {
        entry.i = Math.max(entry.i, idx);
        entry.c = cur;
        entry.p = prev;
        entry.expiresAt = expiresAt;
      } else {
        windows.set(claim.key, { i: idx, c: cur, p: prev, expiresAt });
      }
    }
    if (!sliding) return { limit: claim.limit, remaining: Math.max(0, claim.limit - cur), resetMs: w - elapsed };
    const left = Math.floor(claim.limit - slidingEstimate(cur, prev, elapsed, w));
    return {
      limit: claim.limit,
      remaining: Math.max(0, left),
      resetMs: slidingResetMs(claim.limit, claim.cost, cur, prev, elapsed, w),
    };
  }

  #budget(ns: Namespace, key: string, now: number): BudgetEntry | undefined {
    const b = ns.budgets.get(key);
    if (!b) return undefined;
    if (b.expiresAt <= now) {
      ns.budgets.delete(key);
      return undefined;
    }
    if (b.nextExpiry <= now) purgeReservations(b, now);
    return b;
  }

  #newBudget(ns: Namespace, key: string): BudgetEntry {
    const b: BudgetEntry = { used: 0, reserved: 0, reservations: new Map(), nextExpiry: Infinity, expiresAt: Infinity };
    ns.budgets.set(key, b);
    return b;
  }

  #dropReservation(b: BudgetEntry, id: string): void {
    const r = b.reservations.get(id);
    if (!r) return;
    b.reservations.delete(id);
    b.reserved -= r.amount;
  }

  #budgetFits(claim: BudgetClaim, now: number): boolean {
    const b = this.#budget(this.#ns(claim.policy), claim.key, now);
    if (!b) return claim.amount <= claim.limit;
    const old = b.reservations.get(claim.reservationId)?.amount ?? 0;
    return b.used + b.reserved - old + claim.amount <= claim.limit;
  }

  #budgetApply(claim: BudgetClaim, now: number, write: boolean): ClaimState {
    const ns = this.#ns(claim.policy);
    let b = this.#budget(ns, claim.key, now);
    if (write) {
      b ??= this.#newBudget(ns, claim.key);
      this.#dropReservation(b, claim.reservationId);
      const expiresAt = now + claim.reservationTtlMs;
      b.reservations.set(claim.reservationId, { amount: claim.amount, expiresAt });
      b.reserved += claim.amount;
      if (expiresAt < b.nextExpiry) b.nextExpiry = expiresAt;
      b.expiresAt = Math.max(claim.periodEndMs, expiresAt) + BUDGET_KEY_MARGIN_MS;
    }
    const used = b ? b.used : 0;
    const reserved = b ? b.reserved : 0;
    return {
      limit: claim.limit,
      remaining: Math.max(0, claim.limit - used - reserved),
      resetMs: Math.max(0, claim.periodEndMs - now),
      used,
      reserved,
    };
  }
}

/** Drops reservations past their TTL and recomputes the earliest remaining expiry. */
function purgeReservations(b: BudgetEntry, now: number): void {
  let next = Infinity;
  for (const [id, r] of b.reservations) {
    if (r.expiresAt <= now) {
      b.reservations.delete(id);
      b.reserved -= r.amount;
    } else if (r.expiresAt < next) {
      next = r.expiresAt;
    }
  }
  b.nextExpiry = next;
}
