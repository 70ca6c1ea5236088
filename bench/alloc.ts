/**
 * `node --import tsx bench/alloc.ts [variant …]`: bytes allocated and GC pause per request, for
 * the full policy set or parts of it (`none`, `full`, or plugin names joined by `+`, as in
 * bench/profile.ts). Allocation per request does not move with the VM's steal time, so it
 * compares two builds where CPU per request cannot (docs/performance.md).
 * `ALLOC_SITES=1` also samples where the bytes are allocated (every allocation, kept or not)
 * and prints the top sites per request instead of the totals (the sampler's own work would
 * inflate them). `BENCH_TOLLGATE_MAIN` measures another build.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { nginxUpstream } from './lib/nginx.js';
import { policyFixture } from './lib/policy.js';
import { tollgate } from './lib/tollgate.js';
import { wrk } from './lib/wrk.js';
import { variantConfig } from './lib/variants.js';
import { PROXY_PORT, UPSTREAM_PORT, URL_UNDER_TEST } from './lib/ports.js';

const SAMPLE_MS = 3000;
const sites = process.env.ALLOC_SITES === '1';
const top = Number(process.env.PROFILE_TOP ?? 30);
const variants = process.argv.length > 2 ? process.argv.slice(2) : ['none', 'full'];

interface HeapNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children: HeapNode[];
}

/** Bytes per allocating function (self) from a sampling heap profile. */
function allocationSites(file: string): Map<string, number> {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { head: HeapNode; samples: Array<{ size: number; nodeId: number }> };
  const byId = new Map<number, HeapNode>();
  const walk = (n: HeapNode): void => {
    byId.set(n.id, n);
    n.children.forEach(walk);
  };
  walk(profile.head);
  const out = new Map<string, number>();
  for (const s of profile.samples) {
    const f = byId.get(s.nodeId)!.callFrame;
    const where = f.url.replace(/^.*\/(dist|node_modules)\//, '$1/').replace(/^node:/, '');
    const key = `${f.functionName || '(anonymous)'} ${where}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    out.set(key, (out.get(key) ?? 0) + s.size);
  }
  return out;
}

const upstream = await nginxUpstream('load', UPSTREAM_PORT);
const policy = await policyFixture();
const full = policy.config(UPSTREAM_PORT);
try {
  for (const variant of variants) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-alloc-'));
    const nodeArgs = ['--trace-gc-nvp', ...(sites ? ['--import', resolve(import.meta.dirname, 'lib/heapSampler.mjs')] : [])];
    const env = { HEAP_SAMPLE_OUT: join(dir, 'heap.json'), HEAP_SAMPLE_MS: String(SAMPLE_MS) };
    const proc = await tollgate(variantConfig(variant, full), PROXY_PORT, env, undefined, nodeArgs);
    try {
      await wrk(URL_UNDER_TEST, { duration: 3, connections: 50, script: policy.script });
      const from = proc.output().length;
      const running = wrk(URL_UNDER_TEST, { duration: 5, connections: 50, script: policy.script });
      if (sites) setTimeout(() => proc.child.kill('SIGUSR2'), 500);
      const load = await running;
      const gcLines = proc.output().slice(from);
      let bytes = 0;
      let pauseMs = 0;
      let gcs = 0;
      let maxPauseMs = 0;
      let majors = 0;
      for (const m of gcLines.matchAll(/pause=([\d.]+) .*?gc=(\w+) .*? allocated=(\d+)/g)) {
        pauseMs += Number(m[1]);
        maxPauseMs = Math.max(maxPauseMs, Number(m[1]));
        if (m[2] !== 's') majors++;
        bytes += Number(m[3]);
        gcs++;
      }
      if (!sites) process.stdout.write(
        `${variant.padEnd(28)} ${(bytes / load.requests / 1024).toFixed(2)} KB/req allocated, GC pause ${((pauseMs * 1000) / load.requests).toFixed(2)} µs/req (${gcs} GCs, ${majors} not scavenges, longest pause ${maxPauseMs.toFixed(1)} ms, ${load.requests} requests)\n`,
      );
      if (sites) {
        process.stdout.write(`${variant}: allocation sites, bytes per request\n`);
        while (!proc.output().includes('heap-sample-written')) await new Promise((r) => setTimeout(r, 100));
        const perRequest = (load.rps * SAMPLE_MS) / 1000;
        for (const [site, b] of [...allocationSites(env.HEAP_SAMPLE_OUT)].sort((a, c) => c[1] - a[1]).slice(0, top)) {
          process.stdout.write(`  ${(b / perRequest).toFixed(0).padStart(6)} B  ${site}\n`);
        }
      }
    } finally {
      await proc.stop();
    }
  }
} finally {
  await upstream.stop();
}
