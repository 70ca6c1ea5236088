import { execFileSync } from 'node:child_process';
import { launch, type Running } from './processes.js';

/** A private redis-server on the load core (the shared-counter scenario), or null when absent. */
export async function benchRedis(port = 19_083): Promise<(Running & { url: string }) | null> {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
  } catch {
    return null;
  }
  const r = await launch('load', ['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], /Ready to accept connections/);
  return { ...r, url: `redis://127.0.0.1:${port}/0` };
}
