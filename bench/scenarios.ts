import { resolve } from 'node:path';
import { wrk, type LoadResult } from './lib/wrk.js';
import { launch } from './lib/processes.js';
import { nginxAvailable, nginxProxy } from './lib/nginx.js';
import { tollgate } from './lib/tollgate.js';
import { sseUpstream, timeToFirstByte, holdConnections } from './lib/sse.js';

export interface ScenarioContext {
  upstreamPort: number;
  duration: number;
  connections: number;
}

export interface ScenarioResult {
  name: string;
  load?: LoadResult;
  skipped?: string;
  extra?: string;
  [key: string]: unknown;
}

export interface Scenario {
  name: string;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
}

const PROXY_PORT = 19_081;
const TSX = resolve(import.meta.dirname, '../node_modules/tsx/dist/loader.mjs');

/** Runs wrk against a started proxy, then stops it; notes its RSS after the run. */
async function measure(name: string, start: () => Promise<{ stop(): Promise<void>; rssMb(): number }>, ctx: ScenarioContext, path = '/bench'): Promise<ScenarioResult> {
  const proc = await start();
  try {
    await wrk(`http://127.0.0.1:${PROXY_PORT}${path}`, { duration: 2, connections: ctx.connections }); // warm-up (JIT, pools)
    const load = await wrk(`http://127.0.0.1:${PROXY_PORT}${path}`, { duration: ctx.duration, connections: ctx.connections });
    return { name, load, extra: `rss ${proc.rssMb().toFixed(0)} MB` };
  } finally {
    await proc.stop();
  }
}

export const passthroughConfig = (upstreamPort: number) => ({
  services: [{ name: 'bench', url: `http://127.0.0.1:${upstreamPort}`, routes: [{ name: 'bench', paths: ['/'], strip_path: false }] }],
});

export const SCENARIOS: Scenario[] = [
  {
    name: 'upstream-direct',
    async run(ctx) {
      const load = await wrk(`http://127.0.0.1:${ctx.upstreamPort}/bench`, { duration: ctx.duration, connections: ctx.connections });
      return { name: 'upstream-direct', load, extra: 'no proxy (load and upstream share a core)' };
    },
  },
  {
    name: 'nginx-proxy',
    async run(ctx) {
      if (!nginxAvailable()) return { name: 'nginx-proxy', skipped: 'nginx not installed' };
      return measure('nginx-proxy', () => nginxProxy(PROXY_PORT, ctx.upstreamPort), ctx);
    },
  },
  {
    name: 'node-bare-proxy',
    async run(ctx) {
      const script = resolve(import.meta.dirname, 'bareProxy.ts');
      return measure('node-bare-proxy', () => launch('proxy', [process.execPath, '--import', TSX, script, String(PROXY_PORT), `http://127.0.0.1:${ctx.upstreamPort}`], /ready/), ctx);
    },
  },
  {
    name: 'tollgate-passthrough',
    async run(ctx) {
      return measure('tollgate-passthrough', () => tollgate(passthroughConfig(ctx.upstreamPort), PROXY_PORT), ctx);
    },
  },
  {
    name: 'sse-first-byte',
    async run() {
      const ssePort = 19_082;
      const server = await sseUpstream(ssePort);
      try {
        const direct = await timeToFirstByte(`http://127.0.0.1:${ssePort}/v1/chat/completions`, 300);
        const gw = await tollgate(passthroughConfig(ssePort), PROXY_PORT);
        try {
          const via = await timeToFirstByte(`http://127.0.0.1:${PROXY_PORT}/v1/chat/completions`, 300);
          const overhead = via.p50 - direct.p50;
          return {
            name: 'sse-first-byte',
            direct,
            tollgate: via,
            overhead_ms: overhead,
            extra: `TTFB p50 direct ${direct.p50.toFixed(3)} ms, via tollgate ${via.p50.toFixed(3)} ms: +${overhead.toFixed(3)} ms`,
          };
        } finally {
          await gw.stop();
        }
      } finally {
        server.close();
      }
    },
  },
  {
    name: 'rss-1000-connections',
    async run(ctx) {
      const gw = await tollgate(passthroughConfig(ctx.upstreamPort), PROXY_PORT);
      try {
        const before = gw.rssMb();
        const release = await holdConnections(`http://127.0.0.1:${PROXY_PORT}/bench`, 1000);
        await new Promise((r) => setTimeout(r, 500));
        const rss = gw.rssMb();
        await release();
        return { name: 'rss-1000-connections', rss_idle_mb: before, rss_mb: rss, extra: `RSS ${rss.toFixed(0)} MB with 1000 open keep-alive connections (idle ${before.toFixed(0)} MB)` };
      } finally {
        await gw.stop();
      }
    },
  },
];
