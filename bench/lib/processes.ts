import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { pinned } from './pin.js';

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Children still running; killed if the bench itself dies, so no server outlives it. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export interface Running {
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
  rssMb(): number;
  /** CPU time (user + system) the process has used, in ms (10 ms resolution). */
  cpuMs(): number;
  /** The same, split into the main thread and all other threads (V8's helpers, libuv's pool). */
  threadCpuMs(): { main: number; other: number };
}

/** User + system CPU time (ms) from a /proc/<pid>[/task/<tid>]/stat line. */
function statCpuMs(stat: string): number {
  const fields = stat.split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

/** Spawns a pinned process and waits until its output contains `ready` (string or regex). */
export async function launch(role: 'proxy' | 'load', argv: string[], ready: RegExp, env: NodeJS.ProcessEnv = process.env, timeoutMs = 30_000): Promise<Running> {
  const [cmd, ...args] = pinned(role, argv);
  const child = spawn(cmd!, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (ready.test(out)) {
        clearInterval(timer);
        resolve();
      }
    }, 20);
    child.once('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`${argv.join(' ')} exited (${code}) before ready:\n${out}`));
    });
    setTimeout(() => {
      clearInterval(timer);
      reject(new Error(`${argv.join(' ')} not ready in ${timeoutMs} ms:\n${out}`));
    }, timeoutMs).unref();
  });
  return {
    child,
    output: () => out,
    cpuMs: () => statCpuMs(readFileSync(`/proc/${child.pid}/stat`, 'utf8')),
    threadCpuMs: () => {
      const out = { main: 0, other: 0 };
      for (const tid of readdirSync(`/proc/${child.pid}/task`)) {
        try {
          out[tid === String(child.pid) ? 'main' : 'other'] += statCpuMs(readFileSync(`/proc/${child.pid}/task/${tid}/stat`, 'utf8'));
        } catch {
          // the thread ended meanwhile
        }
      }
      return out;
    },
    rssMb: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}

/**
 * The machine's CPU time accounting from /proc/stat (clock ticks): `steal` is time the
 * hypervisor gave this VM's vCPUs to someone else. A run with much steal is a noisy run.
 */
export function cpuTicks(): { steal: number; total: number } {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    return { steal: fields[7] ?? 0, total: fields.slice(0, 8).reduce((a, b) => a + b, 0) };
  } catch {
    return { steal: 0, total: 0 };
  }
}

/** Steal time between two readings, as a percentage of all CPU time (0 when unknown). */
export function stealPercent(from: { steal: number; total: number }, to: { steal: number; total: number }): number {
  const total = to.total - from.total;
  return total > 0 ? (100 * (to.steal - from.steal)) / total : 0;
}
