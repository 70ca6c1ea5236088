import { definePlugin } from '../../core/plugin.js';
import { RequestContext } from '../../core/context.js';
import { VERSION } from '../../version.js';
import { prometheusSchema, type PrometheusConfig } from './schema.js';
import { kongMetrics, NODE_ID, releaseMetrics, retainMetrics, type KongMetrics } from './metrics.js';
import { LabelGuard, limitByIndex } from './labels.js';
import { TargetHealth } from './targetHealth.js';
import type { CounterSeries, HistogramSeries } from './series.js';
import { tokenBudgetRemaining } from '../token-budget/observed.js';
import { auditSinkHealth } from '../audit-log/sinks.js';

/** The handles of one route's series: looked up once, then every update is an addition. */
interface RouteSeries {
  labels: { service: string; route: string };
  total: HistogramSeries<'service' | 'route'>;
  kong: HistogramSeries<'service' | 'route'>;
  upstream: HistogramSeries<'service' | 'route'>;
  ingress: CounterSeries<'service' | 'route' | 'direction'>;
  egress: CounterSeries<'service' | 'route' | 'direction'>;
  /** kong_http_requests_total per code/source/consumer/workspace. */
  requests: Map<string, CounterSeries<'service' | 'route' | 'code' | 'source' | 'consumer' | 'workspace'>>;
}

/** Key for requests that matched no route (404s, OAuth endpoints). */
const NO_ROUTE = {};

/** Per metric set (not per plugin instance): label guards and target health survive reloads. */
interface SharedState {
  workspaces: LabelGuard;
  consumers: LabelGuard;
  models: LabelGuard;
  health: TargetHealth;
  /** kong_audit_write_errors_total as last reported, per sink kind (the sinks count from start). */
  auditErrorsReported: Map<string, number>;
}
const shared = new WeakMap<KongMetrics, SharedState>();

function sharedState(m: KongMetrics, max: number): SharedState {
  let s = shared.get(m);
  if (!s) {
    s = { workspaces: new LabelGuard(max), consumers: new LabelGuard(max), models: new LabelGuard(max), health: new TargetHealth(m.targetHealth), auditErrorsReported: new Map() };
    shared.set(m, s);
  }
  // The guards outlive reloads; a changed max_label_values applies from now on.
  for (const guard of [s.workspaces, s.consumers, s.models]) guard.resize(max);
  return s;
}

/** kong_token_budget_remaining: today's budgets this replica saw; per workspace the tightest entry. */
function sampleBudgets(m: KongMetrics, s: SharedState): void {
  const remaining = new Map<string, number>();
  for (const b of tokenBudgetRemaining()) {
    const ws = s.workspaces.value(b.workspace_id);
    remaining.set(ws, Math.min(remaining.get(ws) ?? Infinity, b.remaining));
  }
  m.budgetRemaining.reset();
  for (const [ws, n] of remaining) m.budgetRemaining.set({ workspace_id: ws }, n);
}

/** kong_audit_pending_records and kong_audit_write_errors_total, per sink kind, from every audit sink of the process. */
function sampleAudit(m: KongMetrics, s: SharedState): void {
  const pending = new Map<string, number>();
  const errors = new Map<string, number>();
  for (const h of auditSinkHealth()) {
    pending.set(h.sink, (pending.get(h.sink) ?? 0) + h.pending);
    errors.set(h.sink, (errors.get(h.sink) ?? 0) + h.errors);
  }
  for (const [sink, n] of pending) m.auditPending.set({ sink }, n);
  // Sinks are never dropped (sinks.ts), so a kind's total only grows: add what is new since.
  for (const [sink, n] of errors) {
    m.auditErrors.inc({ sink }, n - (s.auditErrorsReported.get(sink) ?? 0));
    s.auditErrorsReported.set(sink, n);
  }
}

/**
 * `prometheus` (SPEC §9): Kong's metric names and labels, so the seed's PromQL and Grafana
 * dashboard 7424 work unchanged. Request metrics are counted in the log phase (in-memory
 * increments only); store reachability and connection counts are sampled at scrape time.
 */
export default definePlugin<PrometheusConfig>({
  name: 'prometheus',
  version: '1.0.0',
  phase: 'log',
  schema: prometheusSchema,
  // kong_tokens_used_total reads the same AI usage as the budget and the audit log.
  observesAi: true,
  create(config, env) {
    const m = kongMetrics(env.metrics.registry, config.metric_prefix);
    retainMetrics(m);
    const s = sharedState(m, config.max_label_values);
    const limitBy = limitByIndex(env.config);
    m.nodeInfo.set({ node_id: NODE_ID, version: VERSION }, 1);
    if (config.upstream_health_metrics) s.health.track(env.config.services);
    env.onScrape(async () => {
      const report = await env.status();
      m.datastoreReachable.set(report.database.reachable ? 1 : 0);
      const c = report.server;
      m.connections.set({ state: 'accepted' }, c.connections_accepted);
      m.connections.set({ state: 'active' }, c.connections_active);
      m.connections.set({ state: 'handled' }, c.connections_handled);
      m.connections.set({ state: 'reading' }, c.connections_reading);
      m.connections.set({ state: 'total' }, c.total_requests);
      m.connections.set({ state: 'waiting' }, c.connections_waiting);
      m.connections.set({ state: 'writing' }, c.connections_writing);
      if (config.ai_metrics) sampleBudgets(m, s);
      sampleAudit(m, s);
    });

    const refusedBy = (ctx: RequestContext): string => {
      const limiter = ctx.route?.chain.limiters.find((p) => (p.instanceName ?? p.name) === ctx.rateLimited);
      return limiter ? (limitBy.get(limiter.instanceId) ?? '') : '';
    };

    /** Series handles per route (the route object is the key; a reload brings new ones). */
    const perRoute = new WeakMap<object, RouteSeries>();
    const routeSeries = (ctx: RequestContext): RouteSeries => {
      const key = ctx.route ?? NO_ROUTE;
      let rs = perRoute.get(key);
      if (!rs) {
        const labels = { service: ctx.service?.name ?? '', route: ctx.route?.name ?? '' };
        rs = {
          labels,
          total: m.requestLatency.series(labels),
          kong: m.kongLatency.series(labels),
          upstream: m.upstreamLatency.series(labels),
          ingress: m.bandwidth.series({ ...labels, direction: 'ingress' }),
          egress: m.bandwidth.series({ ...labels, direction: 'egress' }),
          requests: new Map(),
        };
        perRoute.set(key, rs);
      }
      return rs;
    };

    return {
      close() {
        releaseMetrics(env.metrics.registry, config.metric_prefix, m);
      },
      log(ctx) {
        const rs = routeSeries(ctx);
        const upstreamAnswered = ctx.upstreamHeadersNs !== null;
        const workspace = s.workspaces.value(ctx.workspaceId);
        if (config.status_code_metrics) {
          const source = upstreamAnswered ? 'service' : 'kong';
          const consumer = config.per_consumer ? s.consumers.value(ctx.identity?.consumerUsername) : '';
          const key = `${ctx.status}\u0001${source}\u0001${consumer}\u0001${workspace}`;
          let counter = rs.requests.get(key);
          if (!counter) {
            counter = m.requests.series({ ...rs.labels, code: String(ctx.status), source, consumer, workspace });
            rs.requests.set(key, counter);
          }
          counter.inc();
        }
        if (config.latency_metrics) {
          const total = RequestContext.ms(ctx.startNs, ctx.endNs ?? process.hrtime.bigint()) ?? 0;
          const upstream = RequestContext.ms(ctx.upstreamStartNs, ctx.upstreamEndNs);
          rs.total.observe(total);
          rs.kong.observe(Math.max(0, total - (upstream ?? 0)));
          if (upstream !== null) rs.upstream.observe(upstream);
        }
        if (config.bandwidth_metrics) {
          rs.ingress.inc(ctx.bytesIn);
          rs.egress.inc(ctx.bytesOut);
        }
        if (ctx.rateLimited !== null) m.rateLimitExceeded.inc({ instance: ctx.rateLimited, limit_by: refusedBy(ctx) });
        if (config.ai_metrics) {
          const tokens = ctx.ai?.totalTokens ?? 0;
          if (tokens > 0) m.tokensUsed.series({ workspace_id: workspace, model: s.models.value(ctx.ai?.model) }).inc(tokens);
        }
        if (config.upstream_health_metrics && ctx.service !== null && ctx.upstreamStartNs !== null) s.health.observe(ctx);
      },
    };
  },
});
