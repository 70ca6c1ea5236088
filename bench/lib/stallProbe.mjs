// Preloaded into the proxy by bench/tail.ts (`--import`): on SIGUSR2, records for STALL_MS the
// garbage collections (PerformanceObserver 'gc') and the event loop's gaps (a 1 ms timer chain;
// a gap is a tick later than STALL_GAP_MS, with the process's CPU time spent in it), then writes
// them as JSON to STALL_OUT. The timer chain wakes the loop every millisecond, which a paced
// run at a few thousand requests a second barely notices.
/* global process, setTimeout */
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { writeFileSync } from 'node:fs';

const round = (ms) => Math.round(ms * 1000) / 1000;

process.on('SIGUSR2', () => {
  const minGap = Number(process.env.STALL_GAP_MS ?? 2.5);
  const gcs = [];
  const gaps = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push({ at: round(e.startTime), ms: round(e.duration), kind: e.detail?.kind ?? null });
  });
  observer.observe({ entryTypes: ['gc'] });
  let last = performance.now();
  let cpu = process.cpuUsage();
  let stopped = false;
  const tick = () => {
    const now = performance.now();
    const c = process.cpuUsage();
    if (now - last > minGap) gaps.push({ at: round(last), ms: round(now - last), cpuMs: round((c.user - cpu.user + c.system - cpu.system) / 1000) });
    last = now;
    cpu = c;
    if (!stopped) setTimeout(tick, 1);
  };
  setTimeout(tick, 1);
  setTimeout(() => {
    stopped = true;
    observer.disconnect();
    writeFileSync(process.env.STALL_OUT, JSON.stringify({ gcs, gaps }));
    process.stderr.write('stall-probe-written\n');
  }, Number(process.env.STALL_MS ?? 5000));
});
