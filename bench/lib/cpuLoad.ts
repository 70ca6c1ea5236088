import type { Running } from './processes.js';
import { wrk, type LoadResult } from './wrk.js';

type WrkOptions = Parameters<typeof wrk>[1];

/** One wrk run against a started proxy, with the proxy's CPU time per request it served (µs). */
export async function loadWithCpu(proc: Running, url: string, opts: WrkOptions): Promise<LoadResult & { cpuUs: number }> {
  const cpu0 = proc.cpuMs();
  const load = await wrk(url, opts);
  return { ...load, cpuUs: ((proc.cpuMs() - cpu0) * 1000) / Math.max(1, load.requests) };
}

/** Starts a proxy, warms it up for 1 s (JIT, pools), measures one run, stops it. */
export async function measuredRun(start: () => Promise<Running>, url: string, opts: WrkOptions): Promise<LoadResult & { cpuUs: number }> {
  const proc = await start();
  try {
    await wrk(url, { ...opts, duration: 1 });
    return await loadWithCpu(proc, url, opts);
  } finally {
    await proc.stop();
  }
}
