/**
 * `node --import tsx bench/ablate.ts`: the full policy set built up one plugin at a time,
 * in alternating rounds, so what each plugin adds to the CPU per request shows (docs/performance.md).
 * Env: BENCH_DURATION (s per run, default 4), ABLATE_ROUNDS (default 3), ABLATE_MODE=alone
 * (each plugin on its own next to no plugins, instead of the build-up; steps are then each
 * variant's difference to `none`).
 */
import { nginxUpstream } from './lib/nginx.js';
import { policyFixture, type BenchConfig } from './lib/policy.js';
import { tollgate } from './lib/tollgate.js';
import { measuredRun } from './lib/cpuLoad.js';
import { PROXY_PORT, UPSTREAM_PORT, URL_UNDER_TEST } from './lib/ports.js';

const duration = Number(process.env.BENCH_DURATION ?? 4);
const rounds = Number(process.env.ABLATE_ROUNDS ?? 3);
const upstream = await nginxUpstream('load', UPSTREAM_PORT);
const policy = await policyFixture();
const full = policy.config(UPSTREAM_PORT);
// Built up one plugin at a time, in the seed's order: each step's difference is what adding
// that plugin costs (leaving one out instead changes what the others do: no jwt, no user).
const alone = process.env.ABLATE_MODE === 'alone';
const variants: Array<[string, BenchConfig]> = [['none', { ...full, plugins: [] }]];
full.plugins.forEach((p, i) => variants.push([`+${p.instance_name ?? p.name}`, { ...full, plugins: alone ? [p] : full.plugins.slice(0, i + 1) }]));
const best = new Map<string, number>();
const errors = new Map<string, number>();
try {
  for (let round = 0; round < rounds; round++) {
    for (const [label, config] of variants) {
      const r = await measuredRun(() => tollgate(config, PROXY_PORT), URL_UNDER_TEST, { duration, connections: 50, script: policy.script });
      best.set(label, Math.min(best.get(label) ?? Infinity, r.cpuUs));
      errors.set(label, (errors.get(label) ?? 0) + r.errors);
    }
  }
} finally {
  await upstream.stop();
}
let previous = 0;
for (const [label, us] of best) {
  const step = label === 'none' ? '' : `${(us - previous) >= 0 ? '+' : ''}${(us - previous).toFixed(1)} µs`;
  process.stdout.write(`${label.padEnd(16)} ${us.toFixed(1).padStart(7)} µs/req  ${step.padStart(10)}  ${errors.get(label) ? `${errors.get(label)} non-2xx` : ''}\n`);
  if (!alone || label === 'none') previous = us;
}
