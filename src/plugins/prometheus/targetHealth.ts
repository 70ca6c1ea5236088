import type { Gauge } from 'prom-client';
import type { RequestContext } from '../../core/context.js';
import type { ServiceConfig } from '../../config/schema.js';
import { upstreamTarget } from '../../proxy/upstream.js';

const STATES = ['healthy', 'unhealthy', 'dns_error'] as const;
type State = (typeof STATES)[number];

/**
 * `kong_upstream_target_health` from passive checks, as Kong's passive health checker does:
 * every target starts healthy; a proxied request that got a response marks it healthy, one that
 * could not connect, was reset or timed out marks it unhealthy, an unresolvable host dns_error.
 * One-hot over the states, Kong's shape (`upstream` = service name, `target` = `address` =
 * host:port).
 */
export class TargetHealth {
  private readonly targets = new Map<string, { target: string; state: State }>();

  constructor(private readonly gauge: Gauge<'upstream' | 'target' | 'address' | 'state'>) {}

  /** The services of a (re)loaded config: new ones start healthy, removed ones disappear. */
  track(services: readonly ServiceConfig[]): void {
    const names = new Set(services.map((s) => s.name));
    for (const [name, t] of this.targets) {
      if (names.has(name)) continue;
      this.forget(name, t.target);
      this.targets.delete(name);
    }
    for (const svc of services) {
      const url = new URL(upstreamTarget(svc).origin);
      const target = `${url.hostname}:${url.port || (url.protocol === 'https:' ? '443' : '80')}`;
      const known = this.targets.get(svc.name);
      if (known && known.target === target) continue;
      // A service that now points elsewhere: its old target's series go (an alert on its last
      // state would otherwise fire forever).
      if (known) this.forget(svc.name, known.target);
      this.set(svc.name, target, 'healthy');
    }
  }

  private forget(upstream: string, target: string): void {
    for (const state of STATES) this.gauge.remove({ upstream, target, address: target, state });
  }

  /** After a proxied request: what it tells about its service's target. */
  observe(ctx: RequestContext): void {
    const svc = ctx.service!;
    const t = this.targets.get(svc.name);
    if (!t) return;
    let state: State;
    if (ctx.upstreamHeadersNs !== null) state = 'healthy';
    else if (ctx.status !== 502 && ctx.status !== 504) return; // client gone first: no verdict
    else state = ctx.error?.includes('host not found') ? 'dns_error' : 'unhealthy';
    if (state !== t.state) this.set(svc.name, t.target, state);
  }

  private set(upstream: string, target: string, state: State): void {
    this.targets.set(upstream, { target, state });
    for (const s of STATES) this.gauge.set({ upstream, target, address: target, state: s }, s === state ? 1 : 0);
  }
}
