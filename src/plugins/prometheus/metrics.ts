import { randomUUID } from 'node:crypto';
import { Counter, Gauge, type MetricObjectWithValues, type MetricType, type MetricValue, type Registry } from 'prom-client';
import { FastCounter, FastHistogram } from './series.js';

/**
 * Kong's latency buckets (ms, Kong 3 `DEFAULT_BUCKETS`) plus a tail for LLM calls that stream for
 * minutes (`read_timeout` is 300 s on the seed's llm-gateway).
 */
export const LATENCY_BUCKETS_MS = [1, 2, 5, 7, 10, 15, 20, 30, 50, 75, 100, 200, 500, 750, 1000, 3000, 6000, 10_000, 30_000, 60_000, 120_000, 300_000];

/** This process's node id for `kong_node_info` (Kong's node_id is a UUID too). */
export const NODE_ID = randomUUID();

/**
 * `# TYPE … untyped`. Kong names two families against Prometheus' conventions: a gauge ending
 * in `_total` (`kong_nginx_connections_total`) and a counter without it (`kong_bandwidth_bytes`).
 * promtool flags both as counters or gauges; as untyped (which PromQL treats like any series:
 * `rate()` works) the names stay Kong's and the lint stays quiet.
 */
class UntypedGauge<T extends string> extends Gauge<T> {
  override async get(): Promise<MetricObjectWithValues<MetricValue<T>>> {
    return { ...(await super.get()), type: 'untyped' as unknown as MetricType };
  }
}

export interface KongMetrics {
  requests: FastCounter<'service' | 'route' | 'code' | 'source' | 'consumer' | 'workspace'>;
  requestLatency: FastHistogram<'service' | 'route'>;
  kongLatency: FastHistogram<'service' | 'route'>;
  upstreamLatency: FastHistogram<'service' | 'route'>;
  bandwidth: FastCounter<'service' | 'route' | 'direction'>;
  datastoreReachable: Gauge;
  connections: Gauge<'state'>;
  nodeInfo: Gauge<'node_id' | 'version'>;
  tokensUsed: FastCounter<'workspace_id' | 'model'>;
  rateLimitExceeded: Counter<'instance' | 'limit_by'>;
  budgetRemaining: Gauge<'workspace_id'>;
  targetHealth: Gauge<'upstream' | 'target' | 'address' | 'state'>;
  auditPending: Gauge<'sink'>;
  auditErrors: Counter<'sink'>;
}

/** Metric sets per registry and prefix: plugin instances are rebuilt on reload, metrics are not. */
const bundles = new WeakMap<Registry, Map<string, KongMetrics>>();

/** The metric set for `prefix` in `registry`, created on first use (SPEC §9 names and labels). */
export function kongMetrics(registry: Registry, prefix: string): KongMetrics {
  let byPrefix = bundles.get(registry);
  if (!byPrefix) {
    byPrefix = new Map();
    bundles.set(registry, byPrefix);
  }
  const found = byPrefix.get(prefix);
  if (found) return found;
  const registers = [registry];
  const p = prefix;
  const hist = (name: string, help: string) => new FastHistogram(`${p}_${name}`, help, ['service', 'route'] as const, LATENCY_BUCKETS_MS, registry);
  const m: KongMetrics = {
    requests: new FastCounter(
      `${p}_http_requests_total`,
      'HTTP requests by status code; source is "service" when the upstream answered, "kong" when the gateway did',
      ['service', 'route', 'code', 'source', 'consumer', 'workspace'] as const,
      registry,
    ),
    requestLatency: hist('request_latency_ms', 'Total latency of requests, from first byte received to response closed, in ms'),
    kongLatency: hist('kong_latency_ms', 'Latency added by the gateway (total minus upstream), in ms'),
    upstreamLatency: hist('upstream_latency_ms', 'Time the upstream exchange took, from request sent to response end, in ms'),
    bandwidth: new FastCounter(
      `${p}_bandwidth_bytes`,
      'Body bytes received from clients (ingress) and sent to them (egress)',
      ['service', 'route', 'direction'] as const,
      registry,
      'untyped',
    ),
    datastoreReachable: new Gauge({ name: `${p}_datastore_reachable`, help: 'Whether the store (SQLite/PostgreSQL) answers: 1 reachable, 0 not', registers }),
    connections: new UntypedGauge({
      name: `${p}_nginx_connections_total`,
      help: 'Client connections of the proxy listeners by state (accepted, active, handled, reading, total requests, waiting, writing)',
      labelNames: ['state'] as const,
      registers,
    }),
    nodeInfo: new Gauge({ name: `${p}_node_info`, help: 'Information about this gateway process', labelNames: ['node_id', 'version'] as const, registers }),
    tokensUsed: new FastCounter(`${p}_tokens_used_total`, 'LLM tokens used (prompt + completion), by workspace and model', ['workspace_id', 'model'] as const, registry),
    rateLimitExceeded: new Counter({
      name: `${p}_rate_limiting_exceeded_total`,
      help: 'Requests refused by a limit, by the refusing instance and what it limits by',
      labelNames: ['instance', 'limit_by'] as const,
      registers,
    }),
    budgetRemaining: new Gauge({ name: `${p}_token_budget_remaining`, help: 'Tokens left in the workspace\'s daily budget, as of its latest response', labelNames: ['workspace_id'] as const, registers }),
    targetHealth: new Gauge({
      name: `${p}_upstream_target_health`,
      help: 'Passive health of each service target: 1 for its current state (healthy, unhealthy, dns_error), 0 for the others',
      labelNames: ['upstream', 'target', 'address', 'state'] as const,
      registers,
    }),
    auditPending: new Gauge({
      name: `${p}_audit_pending_records`,
      help: 'Audit records accepted and not yet written to the file (sink="file") or delivered to http_endpoint (sink="http", spooled ones included)',
      labelNames: ['sink'] as const,
      registers,
    }),
    auditErrors: new Counter({
      name: `${p}_audit_write_errors_total`,
      help: 'Failed audit writes: file write attempts, http_endpoint deliveries (retried, or refused for good with a 4xx) and spool writes',
      labelNames: ['sink'] as const,
      registers,
    }),
  };
  byPrefix.set(prefix, m);
  return m;
}

/** Plugin instances using each metric set (retainMetrics / releaseMetrics). */
const users = new WeakMap<KongMetrics, number>();

/** A prometheus instance now uses `m` (its create). */
export function retainMetrics(m: KongMetrics): void {
  users.set(m, (users.get(m) ?? 0) + 1);
}

/**
 * A prometheus instance let `m` go (its runtime closed after a reload). Once no instance uses
 * it — the new config changed metric_prefix or dropped the plugin — its families leave
 * /metrics: their sampled gauges would otherwise stay frozen at their last values (a store
 * that is down shown as reachable). The reload's instances are made before the old ones close,
 * so a prefix kept across a reload keeps its values.
 */
export function releaseMetrics(registry: Registry, prefix: string, m: KongMetrics): void {
  const left = (users.get(m) ?? 1) - 1;
  users.set(m, left);
  if (left > 0 || bundles.get(registry)?.get(prefix) !== m) return;
  for (const metric of Object.values(m) as Array<{ name: string }>) registry.removeSingleMetric(metric.name);
  bundles.get(registry)!.delete(prefix);
}
