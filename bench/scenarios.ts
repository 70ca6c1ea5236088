import { resolve } from 'node:path';
import { wrk, type LoadResult } from './lib/wrk.js';
import { launch } from './lib/processes.js';
import { nginxAvailable, nginxProxy } from './lib/nginx.js';
import { tollgate } from './lib/tollgate.js';

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
];
