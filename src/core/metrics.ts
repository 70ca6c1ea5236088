import { Registry } from 'prom-client';

/**
 * The process's Prometheus registry, exposed on the status listener's /metrics. It outlives
 * config reloads; the prometheus plugin registers its collectors here (names in SPEC §9).
 */
export class Metrics {
  readonly registry = new Registry();
}
