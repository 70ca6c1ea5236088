/**
 * `npm run bench`: one run, one machine, every scenario side by side (docs/performance.md).
 * The proxy under test is pinned to core 0; wrk and the upstream share the other core.
 * Env: BENCH_DURATION (s, default 10), BENCH_CONNECTIONS (default 50), BENCH_ONLY (regex).
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { SCENARIOS, type ScenarioResult } from './scenarios.js';
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
try {
  for (const scenario of SCENARIOS) {
    if (only && !only.test(scenario.name)) continue;
    process.stderr.write(`running ${scenario.name} …\n`);
    try {
      results.push(await scenario.run({ upstreamPort: UPSTREAM_PORT, duration, connections, policy, redisUrl: redis?.url ?? null, peaks, cpu }));
    } catch (err) {
      results.push({ name: scenario.name, skipped: (err as Error).message.split('\n')[0] });
    }
  }
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
