/**
 * `node --import tsx bench/profile.ts [variant …]`: where the gateway's CPU goes, per request.
 * Each variant (`none`, `full`, or the full set's plugin names joined by `+`, e.g.
 * `jwt+token-budget`) runs under `--cpu-prof` at wrk -c50; only the samples of the measured
 * run count (not start-up or warm-up), divided by the requests served. Prints µs per request
 * by function (self time) and by module, side by side for the variants, so a change shows as a
 * difference in one row instead of a difference of two noisy totals.
 * A variant prefixed `redis:` (e.g. `redis:full`) counts on a private redis-server instead.
 * Env: BENCH_DURATION (s, default 6), PROFILE_TOP (rows, default 40), PROFILE_INTERVAL_US (the
 * sampling interval, default V8's 1000 µs; 100 resolves rows below a microsecond per request).
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nginxUpstream } from './lib/nginx.js';
import { policyFixture } from './lib/policy.js';
import { tollgate } from './lib/tollgate.js';
import { wrk } from './lib/wrk.js';
import { variantConfig } from './lib/variants.js';
import { benchRedis } from './lib/redis.js';
import { PROXY_PORT, UPSTREAM_PORT, URL_UNDER_TEST } from './lib/ports.js';

const duration = Number(process.env.BENCH_DURATION ?? 6);
const top = Number(process.env.PROFILE_TOP ?? 40);
const interval = process.env.PROFILE_INTERVAL_US ? [`--cpu-prof-interval=${Number(process.env.PROFILE_INTERVAL_US)}`] : [];
const variants = process.argv.length > 2 ? process.argv.slice(2) : ['none', 'full'];

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Self time (µs) by function and by module, for samples taken between two monotonic instants (µs). */
function summarise(profile: CpuProfile, fromUs: number, toUs: number): { fns: Map<string, number>; modules: Map<string, number> } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const fns = new Map<string, number>();
  const modules = new Map<string, number>();
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    if (t < fromUs || t > toUs) continue;
    const frame = byId.get(profile.samples[i]!)!.callFrame;
    const file = frame.url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/');
    const fn = `${frame.functionName || '(anonymous)'} ${file.replace(/^.*\//, '')}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
    const mod = frame.url === '' ? frame.functionName : file.startsWith('node:') ? 'node:*' : file.replace(/^node_modules\/((@[^/]+\/)?[^/]+)\/.*/, '$1').replace(/^dist\/([^/]+(\/[^/]+)?)\/.*/, '$1');
    fns.set(fn, (fns.get(fn) ?? 0) + delta);
    modules.set(mod, (modules.get(mod) ?? 0) + delta);
  }
  return { fns, modules };
}

const upstream = await nginxUpstream('load', UPSTREAM_PORT);
const policy = await policyFixture();
const wantsRedis = variants.some((v) => v.startsWith('redis:'));
const redis = wantsRedis ? await benchRedis() : null;
if (wantsRedis && redis === null) throw new Error('redis: variants need redis-server on the PATH (apt-get install redis-server)');
const configOf = (variant: string) =>
  variant.startsWith('redis:')
    ? variantConfig(variant.slice(6), policy.config(UPSTREAM_PORT, redis!.url))
    : variantConfig(variant, policy.config(UPSTREAM_PORT));
const results: Array<{ variant: string; requests: number; fns: Map<string, number>; modules: Map<string, number> }> = [];
try {
  for (const variant of variants) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-profile-'));
    const proc = await tollgate(configOf(variant), PROXY_PORT, {}, undefined, ['--cpu-prof', `--cpu-prof-dir=${dir}`, ...interval]);
    await wrk(URL_UNDER_TEST, { duration: 2, connections: 50, script: policy.script });
    const from = Number(process.hrtime.bigint() / 1000n);
    const load = await wrk(URL_UNDER_TEST, { duration, connections: 50, script: policy.script });
    const to = Number(process.hrtime.bigint() / 1000n);
    await proc.stop();
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (file === undefined) throw new Error(`no profile written for ${variant}`);
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
    results.push({ variant, requests: load.requests, ...summarise(profile, from, to) });
  }
} finally {
  await upstream.stop();
  await redis?.stop();
}

function table(title: string, pick: (r: (typeof results)[number]) => Map<string, number>): void {
  const keys = new Map<string, number>();
  for (const r of results) for (const [k, us] of pick(r)) keys.set(k, Math.max(keys.get(k) ?? 0, us / r.requests));
  const rows = [...keys].sort((a, b) => b[1] - a[1]).slice(0, top);
  process.stdout.write(`\n${title} (µs per request)\n${results.map((r) => r.variant.padStart(12)).join('')}\n`);
  const totals = results.map((r) => [...pick(r).values()].reduce((a, b) => a + b, 0) / r.requests);
  process.stdout.write(`${totals.map((t) => t.toFixed(1).padStart(12)).join('')}  (all samples, idle included)\n`);
  for (const [k] of rows) process.stdout.write(`${results.map((r) => ((pick(r).get(k) ?? 0) / r.requests).toFixed(2).padStart(12)).join('')}  ${k}\n`);
}
table('by module', (r) => r.modules);
table('by function, self time', (r) => r.fns);
