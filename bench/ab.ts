/**
 * `node --import tsx bench/ab.ts <other/dist/cli/main.js>`: this build (A) against another (B)
 * on the full policy set, runs alternating A B A B … so that the VM's drift hits both alike.
 * Prints each build's best and median CPU µs per request and req/s (docs/performance.md).
 * Env: BENCH_DURATION (s per run, default 4), AB_ROUNDS (default 5), AB_SCENARIO
 * (full-memory | full-redis | passthrough, default full-memory).
 */
import { resolve } from 'node:path';
import { nginxUpstream } from './lib/nginx.js';
import { policyFixture } from './lib/policy.js';
import { benchRedis } from './lib/redis.js';
import { tollgate } from './lib/tollgate.js';
import { measuredRun } from './lib/cpuLoad.js';
import { passthroughConfig } from './scenarios.js';
import { PROXY_PORT, UPSTREAM_PORT, URL_UNDER_TEST } from './lib/ports.js';

const other = process.argv[2];
if (!other) throw new Error('usage: bench/ab.ts <path to the other build’s dist/cli/main.js>');
const duration = Number(process.env.BENCH_DURATION ?? 4);
const rounds = Number(process.env.AB_ROUNDS ?? 5);
const scenario = process.env.AB_SCENARIO ?? 'full-memory';
const upstream = await nginxUpstream('load', UPSTREAM_PORT);
const redis = scenario === 'full-redis' ? await benchRedis() : null;
const policy = await policyFixture();
const config =
  scenario === 'passthrough' ? passthroughConfig(UPSTREAM_PORT) : policy.config(UPSTREAM_PORT, scenario === 'full-redis' ? redis!.url : undefined);
const builds = { A: resolve(import.meta.dirname, '../dist/cli/main.js'), B: resolve(other) };
const samples: Record<'A' | 'B', Array<{ us: number; rps: number }>> = { A: [], B: [] };
try {
  for (let round = 0; round < rounds; round++) {
    for (const which of round % 2 === 0 ? (['A', 'B'] as const) : (['B', 'A'] as const)) {
      const r = await measuredRun(() => tollgate(config, PROXY_PORT, {}, builds[which]), URL_UNDER_TEST, { duration, connections: 50, script: policy.script });
      samples[which].push({ us: r.cpuUs, rps: r.rps });
    }
  }
} finally {
  await upstream.stop();
  await redis?.stop();
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const which of ['A', 'B'] as const) {
  const us = samples[which].map((s) => s.us);
  const rps = samples[which].map((s) => s.rps);
  process.stdout.write(
    `${which} ${which === 'A' ? 'this build ' : 'other build'}  CPU/req best ${Math.min(...us).toFixed(1)} µs, median ${median(us).toFixed(1)} µs;  req/s best ${Math.max(...rps).toFixed(0)}, median ${median(rps).toFixed(0)}\n`,
  );
}
