import { definePlugin, type AdmissionOutcome, type PluginEnv, type PluginHandler } from '../../core/plugin.js';
import type { RequestContext } from '../../core/context.js';
import type { WindowClaim } from '../../counters/types.js';
import { TooManyRequestsError } from '../../core/errors.js';
import { checkPolicy } from './policy.js';
import { PERIODS, rateLimitingSchema, type RateLimitingConfig } from './schema.js';
import { identify, type IdentifierRule } from './identifier.js';
import { retryAfter, showTightest, showWindow, windowHeaders, type WindowHeaders } from './headers.js';

/** One configured period of one instance, everything precomputed. */
interface Window {
  period: string;
  limit: number;
  windowMs: number;
  headers: WindowHeaders;
}

/**
 * `rate-limiting` (SPEC §7): Kong's plugin, made exact. Each request contributes one window
 * claim per configured period; the pipeline admits the claims of every limit of the route in one
 * atomic counter call (one Redis round trip), so a request refused by any layer consumes nothing.
 */
class RateLimiter implements PluginHandler {
  private readonly windows: Window[];
  private readonly rule: IdentifierRule;
  private readonly keyPrefix: string;
  private readonly type: 'sliding' | 'fixed';
  private readonly policy: 'local' | 'redis';
  private readonly faultTolerant: boolean;
  private readonly hide: boolean;
  private readonly errorCode: number;
  private readonly errorMessage: string;

  constructor(config: RateLimitingConfig, env: PluginEnv) {
    this.windows = PERIODS.flatMap((p) => {
      const limit = config[p.name];
      return limit === undefined ? [] : [{ period: p.name, limit, windowMs: p.ms, headers: windowHeaders(p.header, limit, p.ms) }];
    });
    this.rule = { by: config.limit_by, header: config.header_name?.toLowerCase() ?? null, path: config.path ?? null };
    this.keyPrefix = `rl:${env.instanceId}:`;
    this.type = config.window_type;
    this.policy = config.policy ?? (env.gateway.redis ? 'redis' : 'local');
    this.faultTolerant = config.fault_tolerant;
    this.hide = config.hide_client_headers;
    this.errorCode = config.error_code;
    this.errorMessage = config.error_message;
  }

  claims(ctx: RequestContext): WindowClaim[] {
    const who = identify(ctx, this.rule);
    const claims = new Array<WindowClaim>(this.windows.length);
    for (let n = 0; n < this.windows.length; n++) {
      const w = this.windows[n]!;
      claims[n] = {
        kind: 'window',
        key: `${this.keyPrefix}${w.period}:${who}`,
        limit: w.limit,
        windowMs: w.windowMs,
        type: this.type,
        cost: 1,
        policy: this.policy,
        faultTolerant: this.faultTolerant,
      };
    }
    return claims;
  }

  admission(ctx: RequestContext, outcome: AdmissionOutcome): void {
    const refused = outcome.refusedIndex;
    let retryMs = 0;
    for (let n = 0; n < this.windows.length; n++) {
      const state = outcome.states[n]!;
      const remaining = n === refused ? 0 : state.remaining;
      if (!this.hide) showWindow(ctx, this.windows[n]!.headers, remaining, state.resetMs);
      if (remaining === 0 && state.resetMs > retryMs) retryMs = state.resetMs;
    }
    if (!this.hide) showTightest(ctx, outcome.nowMs);
    if (refused >= 0) throw new TooManyRequestsError(this.errorMessage, { 'Retry-After': retryAfter(retryMs) }, this.errorCode);
  }
}

export default definePlugin<RateLimitingConfig>({
  name: 'rate-limiting',
  version: '1.0.0',
  phase: 'limits',
  schema: rateLimitingSchema,
  check: (config, root) => checkPolicy(config.policy, root),
  create: (config, env) => new RateLimiter(config, env),
});
