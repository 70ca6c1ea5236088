/**
 * `node --import tsx bench/tail.ts [variant …]`: where a paced run's p99 comes from. Each variant
 * (`bare` for bench/bareProxy.ts, or as in bench/profile.ts: `none`, `full`, `jwt+per-ip`, …)
 * runs at the same fixed pace (wrk, TAIL_CONNECTIONS connections each waiting TAIL_DELAY_MS
 * between requests; TAIL_RANDOM=1 draws the wait from an exponential distribution instead, for
 * Poisson-like arrivals) with a stall probe preloaded (lib/stallProbe.mjs). Prints per variant:
 * req/s, p50 and p99; the garbage collections (count, time, longest) and the event loop's gaps
 * longer than 2.5 ms (count, time, longest, and the share of their time the process spent on
 * the CPU: near 100 % means busy, not waiting); and CPU per request of the main thread and of
 * the other threads (V8's helpers, libuv's pool), from /proc/<pid>/task.
 * Env: TAIL_DELAY_MS (default 2), TAIL_CONNECTIONS (default 10), BENCH_DURATION (s, default 6),
 * TAIL_NODE_ARGS (extra node flags for the proxy, e.g. '--max-semi-space-size=4').
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { nginxUpstream } from './lib/nginx.js';
import { policyFixture } from './lib/policy.js';
import { type Running } from './lib/processes.js';
import { startBareProxy } from './lib/bareProxy.js';
import { tollgate } from './lib/tollgate.js';
import { variantConfig } from './lib/variants.js';
import { wrk } from './lib/wrk.js';
import { PROXY_PORT, UPSTREAM_PORT, URL_UNDER_TEST } from './lib/ports.js';

const PROBE = resolve(import.meta.dirname, 'lib/stallProbe.mjs');
const delayMs = Number(process.env.TAIL_DELAY_MS ?? 2);
const connections = Number(process.env.TAIL_CONNECTIONS ?? 10);
const duration = Number(process.env.BENCH_DURATION ?? 6);
const nodeArgs = (process.env.TAIL_NODE_ARGS ?? '').split(' ').filter(Boolean);
const variants = process.argv.length > 2 ? process.argv.slice(2) : ['bare', 'none', 'full'];

interface Probe {
  gcs: Array<{ at: number; ms: number }>;
  gaps: Array<{ at: number; ms: number; cpuMs: number }>;
}

const upstream = await nginxUpstream('load', UPSTREAM_PORT);
const policy = await policyFixture();
const full = policy.config(UPSTREAM_PORT);
const dir = mkdtempSync(join(tmpdir(), 'bench-tail-'));
const paced = join(dir, 'paced.lua');
const delay = process.env.TAIL_RANDOM === '1' ? `math.floor(-math.log(1 - math.random()) * ${delayMs} + 0.5)` : String(delayMs);
writeFileSync(paced, `${readFileSync(policy.script, 'utf8')}\nfunction delay() return ${delay} end\n`);
try {
  for (const variant of variants) {
    const out = join(dir, `${variant}.json`);
    const env = { STALL_OUT: out, STALL_MS: String(Math.max(1, duration - 1) * 1000) };
    const proc: Running =
      variant === 'bare'
        ? await startBareProxy(PROXY_PORT, UPSTREAM_PORT, { nodeArgs: [...nodeArgs, '--import', PROBE], env })
        : await tollgate(variantConfig(variant, full), PROXY_PORT, env, undefined, [...nodeArgs, '--import', PROBE]);
    try {
      await wrk(URL_UNDER_TEST, { duration: 2, connections, script: paced });
      const cpu0 = proc.threadCpuMs();
      setTimeout(() => proc.child.kill('SIGUSR2'), 500);
      const load = await wrk(URL_UNDER_TEST, { duration, connections, script: paced });
      const cpu1 = proc.threadCpuMs();
      const deadline = Date.now() + 5000;
      while (!proc.output().includes('stall-probe-written') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const probe = JSON.parse(readFileSync(out, 'utf8')) as Probe;
      const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
      const gcMs = sum(probe.gcs.map((g) => g.ms));
      const gapMs = sum(probe.gaps.map((g) => g.ms));
      const gapCpu = sum(probe.gaps.map((g) => g.cpuMs));
      const perReq = (ms: number) => ((ms * 1000) / Math.max(1, load.requests)).toFixed(0);
      process.stdout.write(
        `${variant.padEnd(12)} ${Math.round(load.rps)} req/s  p50 ${load.p50.toFixed(2)} ms  p99 ${load.p99.toFixed(2)} ms  ${load.errors ? `${load.errors} errors  ` : ''}| ` +
          `GC ${probe.gcs.length} × (${gcMs.toFixed(0)} ms, longest ${Math.max(0, ...probe.gcs.map((g) => g.ms)).toFixed(1)})  ` +
          `gaps > 2.5 ms ${probe.gaps.length} × (${gapMs.toFixed(0)} ms, longest ${Math.max(0, ...probe.gaps.map((g) => g.ms)).toFixed(1)}, ${gapMs > 0 ? Math.round((100 * gapCpu) / gapMs) : 0} % on CPU)  ` +
          `| CPU/req main ${perReq(cpu1.main - cpu0.main)} µs, other threads ${perReq(cpu1.other - cpu0.other)} µs\n`,
      );
    } finally {
      await proc.stop();
    }
  }
} finally {
  await upstream.stop();
}
process.stdout.write(`pace: ${connections} connections, ${process.env.TAIL_RANDOM === '1' ? `exponential delay, mean ~${delayMs}` : delayMs} ms between requests${nodeArgs.length ? `, node ${nodeArgs.join(' ')}` : ''}\n`);
