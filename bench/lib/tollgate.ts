import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { launch, type Running } from './processes.js';

const ROOT = resolve(import.meta.dirname, '../..');
/** BENCH_TOLLGATE_MAIN points at another build (A/B comparisons of two commits). */
const MAIN = process.env.BENCH_TOLLGATE_MAIN ?? join(ROOT, 'dist/cli/main.js');

/** Starts the compiled gateway (`npm run build` first) pinned to the proxy core. */
export async function tollgate(config: Record<string, unknown>, port: number, env: Record<string, string> = {}, main = MAIN, nodeArgs?: string[]): Promise<Running> {
  if (!existsSync(main)) throw new Error('dist/ is missing: run `npm run build` (npm run bench does)');
  const dir = mkdtempSync(join(tmpdir(), 'bench-tollgate-'));
  const gateway = { data_dir: join(dir, 'data'), store: `sqlite://${join(dir, 'tollgate.db')}`, log_level: 'warn', ...(config.gateway as object) };
  const file = join(dir, 'tollgate.yaml');
  writeFileSync(file, stringify({ ...config, gateway }));
  // BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' profiles the gateway under load.
  const args = nodeArgs ?? (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  return launch('proxy', [process.execPath, ...args, main, 'start', '--config', file], /"event":"listening"/, {
    ...process.env,
    NODE_ENV: 'production',
    TOLLGATE_PROXY_LISTEN: `127.0.0.1:${port}`,
    TOLLGATE_PROXY_TLS_LISTEN: 'off',
    TOLLGATE_ADMIN_LISTEN: '127.0.0.1:0',
    TOLLGATE_STATUS_LISTEN: '127.0.0.1:0',
    ...env,
  });
}
