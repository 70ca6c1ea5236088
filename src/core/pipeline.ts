import type { RequestContext } from './context.js';
import type { Phase, PluginHandler } from './plugin.js';
import type { AdmitResult, Claim, CounterStore } from '../counters/types.js';
import { CountersUnavailableError } from '../counters/types.js';
import { GatewayError, ServiceUnavailableError, UnauthorizedError, toGatewayError } from './errors.js';

/** One configured plugin entry, built. */
export interface PluginInstance {
  name: string;
  instanceName: string | null;
  instanceId: string;
  phase: Phase;
  priority: number;
  needsBody: boolean;
  observesAi: boolean;
  handler: PluginHandler;
}

/**
 * The plugins that apply to one route (global + service + route, most specific wins), split
 * by phase and sorted by priority once, when the config is loaded. The request path only walks
 * these arrays: no lookups, no closures built per request.
 */
export interface Chain {
  correlation: PluginInstance[];
  authentication: PluginInstance[];
  authorization: PluginInstance[];
  /** limits + budget plugins, in priority order; their claims are admitted in one call. */
  limiters: PluginInstance[];
  responseHeaders: PluginInstance[];
  responseEnd: PluginInstance[];
  log: PluginInstance[];
  needsBody: boolean;
  observesAi: boolean;
  /** A limit or budget plugin reads the body (token-budget's estimate): limits run after the body read. */
  limitsNeedBody: boolean;
  /** Any correlation/authentication/authorization/limit plugin: the request takes the async path. */
  hasAccess: boolean;
}

export function buildChain(instances: PluginInstance[]): Chain {
  const sorted = [...instances].sort((a, b) => b.priority - a.priority || a.instanceId.localeCompare(b.instanceId));
  const inPhase = (...phases: Phase[]) => sorted.filter((p) => phases.includes(p.phase));
  const having = (key: keyof PluginHandler) => sorted.filter((p) => typeof p.handler[key] === 'function');
  const limiters = inPhase('limits', 'budget');
  const chain = {
    correlation: inPhase('correlation').filter((p) => p.handler.access),
    authentication: inPhase('authentication').filter((p) => p.handler.authenticate),
    authorization: inPhase('authorization').filter((p) => p.handler.access),
    limiters,
    responseHeaders: having('responseHeaders'),
    responseEnd: having('responseEnd'),
    log: having('log'),
    needsBody: sorted.some((p) => p.needsBody),
    observesAi: sorted.some((p) => p.observesAi),
    limitsNeedBody: limiters.some((p) => p.needsBody),
  };
  const hasAccess = chain.correlation.length + chain.authentication.length + chain.authorization.length + chain.limiters.length > 0;
  return { ...chain, hasAccess };
}

function isPromise<T>(v: unknown): v is Promise<T> {
  return v !== null && typeof v === 'object' && typeof (v as { then?: unknown }).then === 'function';
}

/** Where an access run resumes after a plugin answered with a promise. */
const enum Stage {
  Correlation,
  Authorization,
}

/**
 * Runs correlation → authentication → authorization → limits/budget; throws GatewayError to
 * stop. Synchronous while every plugin and the counters answer synchronously (no promise, no
 * microtask: the usual case with a cached token and local limits); from the first promise on it
 * returns the promise of the rest.
 */
export function runAccessPhases(chain: Chain, ctx: RequestContext, counters: CounterStore): Promise<void> | undefined {
  return continueAccess(chain, ctx, counters, Stage.Correlation, 0);
}

/**
 * Correlation → authentication → authorization, without the limits: for a route whose limits
 * need the body (runLimitPhases after it is read), so that who the caller is and whether they
 * may come in is settled before a byte of the body is read.
 */
export function runIdentityPhases(chain: Chain, ctx: RequestContext): Promise<void> | undefined {
  return continueAccess(chain, ctx, null, Stage.Correlation, 0);
}

/** The limits and budget alone (after runIdentityPhases). */
export function runLimitPhases(chain: Chain, ctx: RequestContext, counters: CounterStore): Promise<void> | undefined {
  return chain.limiters.length > 0 ? admit(chain, ctx, counters, 0) : undefined;
}

/** `counters` null: stop before the limits. */
function continueAccess(chain: Chain, ctx: RequestContext, counters: CounterStore | null, stage: Stage, from: number): Promise<void> | undefined {
  if (stage === Stage.Correlation) {
    const list = chain.correlation;
    for (let i = from; i < list.length; i++) {
      const r = list[i]!.handler.access!(ctx);
      if (isPromise(r)) return r.then(() => continueAccess(chain, ctx, counters, Stage.Correlation, i + 1));
    }
    if (chain.authentication.length > 0) {
      const r = authenticate(chain.authentication, ctx, 0, null);
      if (r !== undefined) return r.then(() => continueAccess(chain, ctx, counters, Stage.Authorization, 0));
    }
    stage = Stage.Authorization;
    from = 0;
  }
  if (stage === Stage.Authorization) {
    const list = chain.authorization;
    for (let i = from; i < list.length; i++) {
      const r = list[i]!.handler.access!(ctx);
      if (isPromise(r)) return r.then(() => continueAccess(chain, ctx, counters, Stage.Authorization, i + 1));
    }
    from = 0;
  }
  return counters !== null && chain.limiters.length > 0 ? admit(chain, ctx, counters, from) : undefined;
}

/**
 * Error precedence when no authentication plugin accepted: a dependency outage, then denial,
 * then a bad token, then a token the plugin has no key for (`notOurs`: another plugin's token,
 * whose own reason — expired, wrong audience — is the one to tell).
 */
function rank(err: GatewayError): number {
  if (err.status >= 500) return 3;
  if (err.status === 403) return 2;
  return (err as GatewayError & { notOurs?: boolean }).notOurs === true ? 0 : 1;
}

function worse(failure: GatewayError | null, err: unknown): GatewayError {
  const e = toGatewayError(err);
  return failure === null || rank(e) > rank(failure) ? e : failure;
}

/** The first plugin that accepts sets ctx.identity; when none does, the worst failure is thrown. */
function authenticate(list: PluginInstance[], ctx: RequestContext, from: number, failure: GatewayError | null): Promise<void> | undefined {
  for (let i = from; i < list.length; i++) {
    let r: ReturnType<NonNullable<PluginHandler['authenticate']>>;
    try {
      r = list[i]!.handler.authenticate!(ctx);
    } catch (err) {
      failure = worse(failure, err);
      continue;
    }
    if (isPromise<RequestContext['identity']>(r)) {
      const before = failure;
      return r.then(
        (identity) => {
          if (identity !== null) ctx.identity = identity;
          else return authenticate(list, ctx, i + 1, before);
        },
        (err: unknown) => authenticate(list, ctx, i + 1, worse(before, err)),
      );
    }
    if (r !== null) {
      ctx.identity = r;
      return undefined;
    }
  }
  ctx.error = failure?.message ?? 'no credentials';
  throw failure ?? new UnauthorizedError('Unauthorized');
}

/**
 * Every limiter's `access` runs before any `claims`: token-budget resolves the workspace
 * (400/403) there, and a rate-limiting instance with `limit_by: workspace` keys on it. Then
 * all claims go to the counters in one call.
 */
function admit(chain: Chain, ctx: RequestContext, counters: CounterStore, from: number): Promise<void> | undefined {
  const list = chain.limiters;
  for (let i = from; i < list.length; i++) {
    const access = list[i]!.handler.access;
    if (access === undefined) continue;
    const r = access.call(list[i]!.handler, ctx);
    if (isPromise(r)) return r.then(() => admit(chain, ctx, counters, i + 1));
  }
  const all: Claim[] = [];
  const ends: number[] = [];
  for (let i = 0; i < list.length; i++) {
    const claims = list[i]!.handler.claims?.(ctx) ?? null;
    if (isPromise<Claim[] | null>(claims)) return collectAsync(chain, ctx, counters, all, ends, i, claims);
    if (claims !== null) for (const c of claims) all.push(c);
    ends.push(all.length);
  }
  return decide(chain, ctx, counters, all, ends);
}

async function collectAsync(chain: Chain, ctx: RequestContext, counters: CounterStore, all: Claim[], ends: number[], i: number, pending: Promise<Claim[] | null>): Promise<void> {
  const list = chain.limiters;
  for (;;) {
    const claims = await pending;
    if (claims !== null) for (const c of claims) all.push(c);
    ends.push(all.length);
    if (++i >= list.length) break;
    const next = list[i]!.handler.claims?.(ctx) ?? null;
    pending = isPromise<Claim[] | null>(next) ? next : Promise.resolve(next);
  }
  return decide(chain, ctx, counters, all, ends);
}

function decide(chain: Chain, ctx: RequestContext, counters: CounterStore, all: Claim[], ends: number[]): Promise<void> | undefined {
  if (all.length === 0) return undefined;
  const now = counters.admitNow?.(all) ?? null;
  if (now !== null) {
    applyAdmission(chain, ctx, now, ends, all);
    return undefined;
  }
  return counters.admit(all).then(
    (result) => applyAdmission(chain, ctx, result, ends, all),
    (err: unknown) => {
      if (err instanceof CountersUnavailableError) {
        throw new ServiceUnavailableError('Rate-limit counters are unavailable, try again later', 'TG_COUNTERS_DOWN', err, { 'retry-after': '1' });
      }
      throw err;
    },
  );
}

/** Every limit sees its outcome (and sets its headers, also on a 429); the first refusal is thrown. */
function applyAdmission(chain: Chain, ctx: RequestContext, result: AdmitResult, ends: number[], claims: readonly Claim[]): void {
  let refusal: unknown;
  let start = 0;
  for (let i = 0; i < chain.limiters.length; i++) {
    const p = chain.limiters[i]!;
    const end = ends[i]!;
    if (start === end) continue;
    const refusedHere = result.refusedIndex >= start && result.refusedIndex < end;
    if (refusedHere) ctx.rateLimited = p.instanceName ?? p.name;
    if (p.handler.admission) {
      try {
        p.handler.admission(ctx, {
          admitted: result.admitted,
          states: start === 0 && end === result.states.length ? result.states : result.states.slice(start, end),
          refusedIndex: refusedHere ? result.refusedIndex - start : -1,
          degraded: result.degraded,
          nowMs: result.nowMs,
        });
      } catch (err) {
        refusal ??= err;
      }
    }
    start = end;
  }
  if (refusal !== undefined) {
    if (refusal instanceof GatewayError && refusal.headers?.['Retry-After'] !== undefined) widenRetryAfter(refusal.headers, claims, result.states);
    throw refusal;
  }
  if (!result.admitted) throw new GatewayError('TG_RATE_LIMITED', 429, 'API rate limit exceeded');
}

/**
 * A 429's Retry-After covers every limit that would refuse the request, not only the layer
 * that said so first: with a per-second and a per-hour window both used up (or a budget spent
 * too), retrying when the first frees would only meet the next.
 */
function widenRetryAfter(headers: NonNullable<GatewayError['headers']>, claims: readonly Claim[], states: AdmitResult['states']): void {
  let ms = 0;
  for (let i = 0; i < claims.length; i++) {
    const claim = claims[i]!;
    const state = states[i];
    if (state === undefined) continue;
    const refuses = claim.kind === 'window' ? state.remaining < claim.cost : state.remaining < claim.amount;
    if (refuses && state.resetMs > ms) ms = state.resetMs;
  }
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  if (seconds > Number(headers['Retry-After'])) headers['Retry-After'] = String(seconds);
}

/** Runs a void phase over a list, isolating failures (response/log phases must not break the response). */
export function runSyncPhase(list: PluginInstance[], key: 'responseHeaders' | 'log', ctx: RequestContext, onError: (p: PluginInstance, err: unknown) => void): void {
  for (const p of list) {
    try {
      p.handler[key]!(ctx);
    } catch (err) {
      onError(p, err);
    }
  }
}

/**
 * Runs the response-end phase, isolating failures. Synchronous while every plugin answers
 * synchronously; from the first promise on it returns the promise of the rest.
 */
export function runResponseEnd(chain: Chain, ctx: RequestContext, onError: (p: PluginInstance, err: unknown) => void, from = 0): Promise<void> | undefined {
  const list = chain.responseEnd;
  for (let i = from; i < list.length; i++) {
    const p = list[i]!;
    try {
      const r = p.handler.responseEnd!(ctx);
      if (isPromise(r)) {
        const next = () => runResponseEnd(chain, ctx, onError, i + 1);
        return r.then(next, (err: unknown) => {
          onError(p, err);
          return next();
        });
      }
    } catch (err) {
      onError(p, err);
    }
  }
  return undefined;
}
