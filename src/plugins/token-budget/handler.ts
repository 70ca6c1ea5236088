import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { definePlugin, type AdmissionOutcome, type PluginEnv, type PluginHandler } from '../../core/plugin.js';
import { Slot, type RequestContext } from '../../core/context.js';
import { TooManyRequestsError } from '../../core/errors.js';
import type { BudgetClaim, BudgetUsage, CounterStore } from '../../counters/types.js';
import type { Store } from '../../store/types.js';
import { checkPolicy } from '../rate-limiting/policy.js';
import { tokenBudgetSchema, type TokenBudgetConfig } from './schema.js';
import { BudgetBook, registerBook } from './book.js';
import { StoreCache } from '../../store/storeCache.js';
import { resolveWorkspace, type WorkspaceRules } from './workspace.js';
import { reservationAmount } from './reservation.js';
import { latest, observe } from './observed.js';
import { showBudget } from './headers.js';

/** This request's reservation with one token-budget entry. */
interface Held {
  owner: TokenBudget;
  workspace: string;
  limit: number;
  claim: BudgetClaim | null;
  /** True once admitted: settle or release it when the response ends. */
  held: boolean;
  /** Sequence of the observation the headers were computed from. */
  seq: number;
  /** When the reservation was made or last renewed (ms). */
  renewedAt: number;
  /**
   * True once the response ended. The client may hang up while the admission still waits for
   * Redis: the reservation it then gets is released at once instead of held for the day.
   */
  ended: boolean;
}

const HELD = new Slot<Held[]>('token-budget');

/** Reservation ids: unique per process and request (a client-sent X-Request-ID may repeat). */
const NONCE = randomBytes(6).toString('base64url');
let reservations = 0;

/**
 * A reservation never settled (a crashed replica) stops counting after this long:
 * max(10 min, 2 × the longest read_timeout), or `TOLLGATE_BUDGET_RESERVATION_TTL_MS`.
 * Reservations of responses still streaming are renewed every third of it (see `renewDue`).
 */
function reservationTtl(env: PluginEnv): number {
  const set = Number(process.env.TOLLGATE_BUDGET_RESERVATION_TTL_MS);
  if (Number.isInteger(set) && set >= 1000) return set;
  let longest = 0;
  for (const s of env.config.services) longest = Math.max(longest, s.read_timeout);
  return Math.max(600_000, 2 * longest);
}

/**
 * `token-budget` (SPEC §7): a daily token budget per workspace, exact under concurrency. The
 * workspace is resolved in `access`; `claims` reserves the request's worst case (estimated prompt
 * + max tokens) in the pipeline's single atomic counter call; `responseEnd` replaces the
 * reservation with the real usage read by src/ai (or releases it when nothing was used).
 */
class TokenBudget implements PluginHandler {
  private readonly book: BudgetBook;
  private readonly rules: WorkspaceRules;
  private readonly defaultCompletion: number;
  private readonly ttlMs: number;
  private readonly counters: CounterStore;
  private readonly logger: Logger;
  private readonly overrides: StoreCache<number | null>;
  private readonly members: StoreCache<readonly string[]>;
  /** Admitted reservations whose response has not ended yet: renewed while they last. */
  private readonly inFlight = new Set<Held>();
  private renewTimer: NodeJS.Timeout | null = null;

  constructor(config: TokenBudgetConfig, env: PluginEnv) {
    this.book = new BudgetBook(config, env);
    this.rules = {
      header: config.workspace_header.toLowerCase(),
      headerLabel: config.workspace_header,
      claimNames: config.workspace_claims,
      strict: config.membership === 'strict',
    };
    this.defaultCompletion = config.default_completion_reservation;
    this.ttlMs = reservationTtl(env);
    this.counters = env.counters;
    this.logger = env.logger;
    const store: Store = env.store;
    const ttl = env.gateway.db_cache_ttl;
    this.overrides = new StoreCache(store.health, ttl, async (ws) => (await store.workspaces.get(ws))?.token_budget_day ?? null);
    this.members = new StoreCache(store.health, ttl, (user) => store.workspaces.workspacesOf(user));
    registerBook(this, this.book);
  }

  private readonly memberships = (user: string): readonly string[] | Promise<readonly string[]> => this.members.get(user);

  access(ctx: RequestContext): void | Promise<void> {
    const workspace = resolveWorkspace(ctx, this.rules, this.memberships);
    return workspace instanceof Promise ? workspace.then((ws) => this.begin(ctx, ws)) : this.begin(ctx, workspace);
  }

  /** Records the workspace and its limit (the stored override, cached). */
  private begin(ctx: RequestContext, workspace: string): void | Promise<void> {
    ctx.workspaceId = workspace;
    const override = this.overrides.get(workspace);
    if (override instanceof Promise) return override.then((o) => this.hold(ctx, workspace, o));
    this.hold(ctx, workspace, override);
  }

  private hold(ctx: RequestContext, workspace: string, override: number | null): void {
    const held: Held = { owner: this, workspace, limit: override ?? this.book.defaultLimit, claim: null, held: false, seq: 0, renewedAt: 0, ended: false };
    const list = ctx.get(HELD);
    if (list === undefined) ctx.set(HELD, [held]);
    else list.push(held);
  }

  private own(ctx: RequestContext): Held | undefined {
    const list = ctx.get(HELD);
    if (list === undefined) return undefined;
    for (const h of list) if (h.owner === this) return h;
    return undefined;
  }

  claims(ctx: RequestContext): BudgetClaim[] | null {
    const h = this.own(ctx);
    if (h === undefined) return null;
    const now = Date.now();
    const day = this.book.period.at(now);
    h.claim = {
      kind: 'budget',
      key: this.book.key(h.workspace, day),
      limit: h.limit,
      amount: reservationAmount(ctx.aiRequest, this.defaultCompletion),
      reservationId: `${NONCE}.${(reservations++).toString(36)}`,
      periodEndMs: day.endMs,
      reservationTtlMs: this.ttlMs,
      policy: this.book.policy,
      faultTolerant: this.book.faultTolerant,
    };
    return [h.claim];
  }

  admission(ctx: RequestContext, outcome: AdmissionOutcome): void {
    const h = this.own(ctx);
    const state = outcome.states[0];
    if (h === undefined || h.claim === null || state === undefined) return;
    const used = state.used ?? 0;
    const reserved = state.reserved ?? 0;
    h.seq = observe(h.claim.key, h.workspace, this.book.instanceName, h.limit, used, reserved, h.claim.periodEndMs);
    h.held = outcome.admitted;
    if (h.held && h.ended) {
      void this.responseEnd(ctx); // the client left while Redis answered: nothing will be sent
      return;
    }
    if (h.held) this.track(h);
    // Shown: what was used before this request, and what is left beside the other requests in flight.
    showBudget(ctx, h.limit, used, reserved - (h.held ? h.claim.amount : 0));
    if (outcome.refusedIndex >= 0) {
      throw new TooManyRequestsError('Daily token budget exhausted for this workspace', { 'Retry-After': String(Math.max(1, Math.ceil(state.resetMs / 1000))) }, 429, 'TG_BUDGET_EXHAUSTED');
    }
  }

  responseHeaders(ctx: RequestContext): void {
    const h = this.own(ctx);
    if (h === undefined || h.claim === null || !h.held) return;
    const o = latest(h.claim.key);
    if (o === undefined || o.seq <= h.seq) return;
    showBudget(ctx, h.limit, o.used, o.reserved - h.claim.amount);
  }

  /** Settles the reservation (synchronously for in-process counters). */
  responseEnd(ctx: RequestContext): void | Promise<void> {
    const h = this.own(ctx);
    if (h === undefined) return;
    h.ended = true;
    if (h.claim === null || !h.held) return;
    h.held = false;
    this.inFlight.delete(h);
    const claim = h.claim;
    const tokens = ctx.ai?.totalTokens ?? null;
    const counters = this.counters;
    const charge = tokens !== null && tokens > 0 ? Math.ceil(tokens) : 0;
    let now: BudgetUsage | null;
    try {
      now = charge > 0 ? (counters.settleNow?.(claim, charge) ?? null) : (counters.releaseNow?.(claim) ?? null);
    } catch (err) {
      this.settleFailed(ctx, h, tokens, err);
      return;
    }
    if (now !== null) {
      this.settled(h, claim, now);
      return;
    }
    return (charge > 0 ? counters.settle(claim, charge) : counters.release(claim)).then(
      (totals) => this.settled(h, claim, totals),
      (err: unknown) => this.settleFailed(ctx, h, tokens, err),
    );
  }

  private settled(h: Held, claim: BudgetClaim, totals: BudgetUsage): void {
    observe(claim.key, h.workspace, this.book.instanceName, h.limit, totals.used, totals.reserved, claim.periodEndMs);
  }

  private settleFailed(ctx: RequestContext, h: Held, tokens: number | null, err: unknown): void {
    this.logger.warn({ err, workspace: h.workspace, request_id: ctx.id, tokens }, 'token-budget: could not settle a reservation in Redis; it is sent again once Redis answers');
  }

  private track(h: Held): void {
    h.renewedAt = Date.now();
    this.inFlight.add(h);
    if (this.renewTimer === null) {
      this.renewTimer = setInterval(this.renewDue, Math.floor(this.ttlMs / 3));
      this.renewTimer.unref();
    }
  }

  /**
   * Every third of the TTL: reservations made or renewed at least that long ago, whose response
   * is still streaming, are extended by a TTL (one counter call for all of them). Without it, a
   * stream that outlives the TTL would stop counting as reserved, and concurrent requests could
   * spend its tokens a second time. The timer stops while nothing is in flight.
   */
  private readonly renewDue = (): void => {
    if (this.inFlight.size === 0) {
      this.stopRenewing();
      return;
    }
    const now = Date.now();
    const due: BudgetClaim[] = [];
    for (const h of this.inFlight) {
      if (h.claim === null || now - h.renewedAt < this.ttlMs / 3 - 50) continue;
      h.renewedAt = now;
      due.push(h.claim);
    }
    if (due.length === 0) return;
    this.counters.renew(due).catch((err: unknown) => {
      this.logger.warn({ err, reservations: due.length }, 'token-budget: could not renew the reservations of streaming responses; trying again in a third of their TTL');
      for (const h of this.inFlight) if (h.renewedAt === now) h.renewedAt = 0;
    });
  };

  private stopRenewing(): void {
    if (this.renewTimer !== null) clearInterval(this.renewTimer);
    this.renewTimer = null;
  }

  close(): void {
    this.stopRenewing();
    this.inFlight.clear();
  }

  entitiesChanged(): void {
    this.overrides.clear();
    this.members.clear();
  }
}

export default definePlugin<TokenBudgetConfig>({
  name: 'token-budget',
  version: '1.0.0',
  phase: 'budget',
  schema: tokenBudgetSchema,
  check: (config, root) => checkPolicy(config.policy, root),
  observesAi: true,
  create: (config, env) => new TokenBudget(config, env),
});
