import type { RequestContext } from './context.js';
import type { Phase, PluginHandler } from './plugin.js';
import type { Claim, CounterStore } from '../counters/types.js';
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
  /** Any correlation/authentication/authorization/limit plugin: the request takes the async path. */
  hasAccess: boolean;
}

export function buildChain(instances: PluginInstance[]): Chain {
  const sorted = [...instances].sort((a, b) => b.priority - a.priority || a.instanceId.localeCompare(b.instanceId));
  const inPhase = (...phases: Phase[]) => sorted.filter((p) => phases.includes(p.phase));
  const having = (key: keyof PluginHandler) => sorted.filter((p) => typeof p.handler[key] === 'function');
  const chain = {
    correlation: inPhase('correlation').filter((p) => p.handler.access),
    authentication: inPhase('authentication').filter((p) => p.handler.authenticate),
    authorization: inPhase('authorization').filter((p) => p.handler.access),
    limiters: inPhase('limits', 'budget'),
    responseHeaders: having('responseHeaders'),
    responseEnd: having('responseEnd'),
    log: having('log'),
    needsBody: sorted.some((p) => p.needsBody),
    observesAi: sorted.some((p) => p.observesAi),
  };
  const hasAccess = chain.correlation.length + chain.authentication.length + chain.authorization.length + chain.limiters.length > 0;
  return { ...chain, hasAccess };
}

function isPromise<T>(v: unknown): v is Promise<T> {
  return v !== null && typeof v === 'object' && typeof (v as { then?: unknown }).then === 'function';
}

/** Runs correlation → authentication → authorization → limits/budget. Throws GatewayError to stop. */
export async function runAccessPhases(chain: Chain, ctx: RequestContext, counters: CounterStore): Promise<void> {
  for (const p of chain.correlation) {
    const r = p.handler.access!(ctx);
    if (isPromise(r)) await r;
  }
  if (chain.authentication.length > 0) await authenticate(chain, ctx);
  for (const p of chain.authorization) {
    const r = p.handler.access!(ctx);
    if (isPromise(r)) await r;
  }
  if (chain.limiters.length > 0) await admit(chain, ctx, counters);
}

/** Error precedence when no authentication plugin accepted: a dependency outage, then denial, then bad token. */
function rank(err: GatewayError): number {
  if (err.status >= 500) return 3;
  if (err.status === 403) return 2;
  return 1;
}

async function authenticate(chain: Chain, ctx: RequestContext): Promise<void> {
  let failure: GatewayError | null = null;
  for (const p of chain.authentication) {
    try {
      let r = p.handler.authenticate!(ctx);
      if (isPromise(r)) r = await r;
      if (r !== null) {
        ctx.identity = r;
        return;
      }
    } catch (err) {
      const e = toGatewayError(err);
      if (failure === null || rank(e) > rank(failure)) failure = e;
    }
  }
  ctx.error = failure?.message ?? 'no credentials';
  throw failure ?? new UnauthorizedError('Unauthorized');
}

async function admit(chain: Chain, ctx: RequestContext, counters: CounterStore): Promise<void> {
  // Every limiter's `access` runs before any `claims`: token-budget resolves the workspace
  // (400/403) there, and a rate-limiting instance with `limit_by: workspace` keys on it.
  for (const p of chain.limiters) {
    if (p.handler.access) {
      const r = p.handler.access(ctx);
      if (isPromise(r)) await r;
    }
  }
  const all: Claim[] = [];
  const spans: [start: number, end: number][] = [];
  for (const p of chain.limiters) {
    let claims = p.handler.claims ? p.handler.claims(ctx) : null;
    if (isPromise<Claim[] | null>(claims)) claims = await claims;
    const start = all.length;
    if (claims) for (const c of claims) all.push(c);
    spans.push([start, all.length]);
  }
  if (all.length === 0) return;
  let result;
  try {
    result = await counters.admit(all);
  } catch (err) {
    if (err instanceof CountersUnavailableError) {
      throw new ServiceUnavailableError('Rate-limit counters are unavailable, try again later', 'TG_COUNTERS_DOWN', err, { 'retry-after': '1' });
    }
    throw err;
  }
  let refusal: unknown;
  for (let i = 0; i < chain.limiters.length; i++) {
    const p = chain.limiters[i]!;
    const [start, end] = spans[i]!;
    if (start === end) continue;
    if (!p.handler.admission) {
      if (result.refusedIndex >= start && result.refusedIndex < end) ctx.rateLimited = p.instanceName ?? p.name;
      continue;
    }
    const refusedHere = result.refusedIndex >= start && result.refusedIndex < end;
    if (refusedHere) ctx.rateLimited = p.instanceName ?? p.name;
    // Every limit sees its outcome (and sets its headers, also on a 429); the refusal thrown
    // by the refusing one is rethrown after the loop.
    try {
      p.handler.admission(ctx, {
        admitted: result.admitted,
        states: result.states.slice(start, end),
        refusedIndex: refusedHere ? result.refusedIndex - start : -1,
        degraded: result.degraded,
      });
    } catch (err) {
      refusal ??= err;
    }
  }
  if (refusal !== undefined) throw refusal;
  if (!result.admitted) throw new GatewayError('TG_RATE_LIMITED', 429, 'API rate limit exceeded');
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

export async function runResponseEnd(chain: Chain, ctx: RequestContext, onError: (p: PluginInstance, err: unknown) => void): Promise<void> {
  for (const p of chain.responseEnd) {
    try {
      const r = p.handler.responseEnd!(ctx);
      if (isPromise(r)) await r;
    } catch (err) {
      onError(p, err);
    }
  }
}
