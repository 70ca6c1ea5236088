/**
 * `node --import tsx bench/ablate.ts`: the full policy set with one plugin left out at a time,
 * alternating runs, so each plugin's share of the CPU per request shows (docs/performance.md).
 * Env: BENCH_DURATION (s per run, default 4), ABLATE_ROUNDS (default 3).
 */
import { nginxUpstream } from './lib/nginx.js';
import { policyFixture } from './lib/policy.js';
import { tollgate } from './lib/tollgate.js';
import { wrk } from './lib/wrk.js';

const UPSTREAM_PORT = 19_080;
const PROXY_PORT = 19_081;
const duration = Number(process.env.BENCH_DURATION ?? 4);
const rounds = Number(process.env.ABLATE_ROUNDS ?? 3);
const upstream = await nginxUpstream('load', UPSTREAM_PORT);
const policy = await policyFixture();
const full = policy.config(UPSTREAM_PORT) as { plugins: Array<{ name: string; instance_name?: string }> };
// Built up one plugin at a time, in the seed's order: each step's difference is what adding
// that plugin costs (leaving one out instead changes what the others do: no jwt, no user).
const variants: Array<[string, object]> = [['none', { ...full, plugins: [] }]];
full.plugins.forEach((p, i) => variants.push([`+${p.instance_name ?? p.name}`, { ...full, plugins: full.plugins.slice(0, i + 1) }]));
const best = new Map<string, number>();
const errors = new Map<string, number>();
try {
  for (let round = 0; round < rounds; round++) {
    for (const [label, config] of variants) {
      const proc = await tollgate(config as Record<string, unknown>, PROXY_PORT);
      try {
        const url = `http://127.0.0.1:${PROXY_PORT}/v1/chat/completions`;
        await wrk(url, { duration: 1, connections: 50, script: policy.script });
        const cpu0 = proc.cpuMs();
        const r = await wrk(url, { duration, connections: 50, script: policy.script });
        const us = ((proc.cpuMs() - cpu0) * 1000) / r.requests;
        best.set(label, Math.min(best.get(label) ?? Infinity, us));
        errors.set(label, (errors.get(label) ?? 0) + r.errors);
      } finally {
        await proc.stop();
      }
    }
  }
} finally {
  await upstream.stop();
}
let previous = 0;
for (const [label, us] of best) {
  const step = label === 'none' ? '' : `${(us - previous) >= 0 ? '+' : ''}${(us - previous).toFixed(1)} µs`;
  process.stdout.write(`${label.padEnd(16)} ${us.toFixed(1).padStart(7)} µs/req  ${step.padStart(10)}  ${errors.get(label) ? `${errors.get(label)} non-2xx` : ''}\n`);
  previous = us;
}
