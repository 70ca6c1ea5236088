import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { freePort, waitFor } from './ports.js';

export interface RedisServer {
  url: string;
  port: number;
  /** Stops the server (SIGTERM) and removes its directory. */
  stop(): Promise<void>;
  /** Kills it hard (SIGKILL), to test what happens when Redis dies. */
  kill(): Promise<void>;
  /** Starts it again on the same port (after kill/stop). */
  restart(): Promise<void>;
}

async function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.setTimeout(500);
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => {
      resolve(d.toString().startsWith('+PONG'));
      s.destroy();
    });
    s.on('error', () => resolve(false));
    s.on('timeout', () => {
      resolve(false);
      s.destroy();
    });
  });
}

/** Spawns a private redis-server on an ephemeral port (no persistence). */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-redis-'));
  let child: ChildProcess | null = null;
  const launch = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
      stdio: 'ignore',
    });
    await waitFor(() => ping(port), `redis-server on port ${port}`);
  };
  const halt = async (signal: NodeJS.Signals) => {
    const c = child as ChildProcess | null;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill(signal);
    await exited;
    child = null;
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${port}/0`,
    port,
    async stop() {
      await halt('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
    kill: () => halt('SIGKILL'),
    restart: launch,
  };
}

/**
 * The Redis for tests that only need one: TOLLGATE_TEST_REDIS_URL when set (CI or a developer's
 * own server), else the private one test/helpers/globalSetup.ts started for this run. Callers
 * isolate themselves with their own key prefix or DB number.
 */
export function sharedRedisUrl(): string {
  const url = process.env.TOLLGATE_TEST_REDIS_URL;
  if (!url) throw new Error('TOLLGATE_TEST_REDIS_URL is not set (test/helpers/globalSetup.ts sets it)');
  return url;
}
