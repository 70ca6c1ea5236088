import { resolve } from 'node:path';
import { launch, type Running } from './processes.js';

const TSX = resolve(import.meta.dirname, '../../node_modules/tsx/dist/loader.mjs');
const SCRIPT = resolve(import.meta.dirname, '../bareProxy.ts');

/**
 * Starts bench/bareProxy.ts (the runtime's ceiling) on the proxy core, listening on `port`, in
 * front of the upstream on `upstreamPort`. `nodeArgs` go before the script (V8 flags, `--import`
 * preloads); `env` adds to the environment.
 */
export function startBareProxy(port: number, upstreamPort: number, opts: { nodeArgs?: string[]; env?: Record<string, string> } = {}): Promise<Running> {
  return launch('proxy', [process.execPath, ...(opts.nodeArgs ?? []), '--import', TSX, SCRIPT, String(port), `http://127.0.0.1:${upstreamPort}`], /ready/, {
    ...process.env,
    ...opts.env,
  });
}
