import { z } from 'zod';

/**
 * `prometheus` config (SPEC §9). Kong's keys are accepted so Kong configs carry over, but the
 * metric families Kong 3 switches off by default (status codes, latency, bandwidth, upstream
 * health) are on here: the seed's PromQL and dashboard 7424 need them.
 */
export const prometheusSchema = z.strictObject({
  metric_prefix: z
    .string()
    .regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'expected a Prometheus name prefix such as kong or tollgate (letters, digits, "_")')
    .default('kong')
    .describe('Prefix of every metric name (`kong_http_requests_total`, …).'),
  per_consumer: z.boolean().default(false).describe('Fill the `consumer` label of `kong_http_requests_total` (Kong\'s option; off by default to bound cardinality).'),
  status_code_metrics: z.boolean().default(true).describe('`kong_http_requests_total` (Kong 3 defaults this to false).'),
  latency_metrics: z.boolean().default(true).describe('The three latency histograms (Kong 3 defaults this to false).'),
  bandwidth_metrics: z.boolean().default(true).describe('`kong_bandwidth_bytes` (Kong 3 defaults this to false).'),
  upstream_health_metrics: z.boolean().default(true).describe('`kong_upstream_target_health` (Kong 3 defaults this to false).'),
  ai_metrics: z.boolean().default(true).describe('`kong_tokens_used_total` and `kong_token_budget_remaining`.'),
  max_label_values: z
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .default(1000)
    .describe('Distinct values kept per client-influenced label (workspace, consumer, model); later ones are counted under `__other__`.'),
});

export type PrometheusConfig = z.infer<typeof prometheusSchema>;
