/**
 * `npm run bench`: one run, one machine, every scenario side by side (docs/performance.md).
 * The proxy under test is pinned to core 0; wrk and the upstream share the other core.
 * Env: BENCH_DURATION (s, default 10), BENCH_CONNECTIONS (default 50), BENCH_ONLY (regex).
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { SCENARIOS, measurePeaks, type ScenarioContext, type ScenarioResult } from './scenarios.js';
import type { Running } from './lib/processes.js';
import { PINNING } from './lib/pin.js';
import { nginxUpstream } from './lib/nginx.js';
import { policyFixture } from './lib/policy.js';
import { benchRedis } from './lib/redis.js';
import { UPSTREAM_PORT } from './lib/ports.js';

const duration = Number(process.env.BENCH_DURATION ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const only = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY) : null;

const upstream = await nginxUpstream('load', UPSTREAM_PORT);
const redis = await benchRedis();
const policy = await policyFixture();
const peaks = new Map<string, number>();
const cpu = new Map<string, number>();
const results: ScenarioResult[] = [];
const ctx: ScenarioContext = { upstreamPort: UPSTREAM_PORT, duration, connections, policy, redisUrl: redis?.url ?? null, peaks, cpu };
const chosen = SCENARIOS.filter((s) => !only || only.test(s.name));
const failed = (name: string, err: unknown): ScenarioResult => ({ name, skipped: (err as Error).message.split('\n')[0] });
try {
  // The peak rows first, together in interleaved rounds (they are what the ratios divide);
  // then the scenarios that run on their own (half load uses the peaks), in their order.
  const peakRows: Array<{ name: string; start: () => Promise<Running> }> = [];
  const byName = new Map<string, ScenarioResult>();
  for (const s of chosen) {
    if (s.start === undefined) continue;
    const how = s.start(ctx);
    if (typeof how === 'function') peakRows.push({ name: s.name, start: how });
    else byName.set(s.name, { name: s.name, skipped: how.skipped });
  }
  if (peakRows.length > 0) {
    process.stderr.write(`running ${peakRows.map((r) => r.name).join(', ')} (interleaved) …\n`);
    try {
      for (const r of await measurePeaks(peakRows, ctx, (l) => process.stderr.write(`${l}\n`))) byName.set(r.name, r);
    } catch (err) {
      for (const r of peakRows) byName.set(r.name, failed(r.name, err));
    }
  }
  for (const s of chosen) {
    if (s.run === undefined) continue;
    process.stderr.write(`running ${s.name} …\n`);
    try {
      byName.set(s.name, await s.run(ctx));
    } catch (err) {
      byName.set(s.name, failed(s.name, err));
    }
  }
  for (const s of chosen) results.push(byName.get(s.name)!);
} finally {
  await upstream.stop();
  await redis?.stop();
}

const bare = results.find((r) => r.name === 'node-bare-proxy')?.load?.rps;
const bareCpu = cpu.get('node-bare-proxy');
const nginx = results.find((r) => r.name === 'nginx-proxy')?.load?.rps;
const fmt = (n: number | undefined, d = 0) => (n === undefined || Number.isNaN(n) ? '-' : n.toFixed(d));
const rows = results.map((r) => [
  r.name,
  r.skipped ? `skipped: ${r.skipped}` : fmt(r.load?.rps),
  fmt(r.load?.p50, 2),
  fmt(r.load?.p99, 2),
  r.load && bare ? fmt(r.load.rps / bare, 2) : '-',
  r.load && nginx ? fmt(r.load.rps / nginx, 2) : '-',
  r.load ? String(r.load.errors) : '-',
  bareCpu && cpu.has(r.name) ? fmt(bareCpu / cpu.get(r.name)!, 2) : '-',
  r.extra ?? '',
]);
const header = ['scenario', 'req/s', 'p50 ms', 'p99 ms', '× node', '× nginx', 'errors', '× node (CPU)', 'notes'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
process.stdout.write(`\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${rows.map(line).join('\n')}\n`);
process.stdout.write(`\n${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${PINNING}, wrk -c${connections} -d${duration}s\n`);

const out = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, model: cpus()[0]?.model, memory_gib: Math.round(totalmem() / 2 ** 30), node: process.version, pinning: PINNING },
  settings: { duration, connections },
  results,
};
mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
writeFileSync(join(import.meta.dirname, 'results', 'latest.json'), `${JSON.stringify(out, null, 2)}\n`);
