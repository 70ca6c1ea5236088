import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { stringify } from 'yaml';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'src/cli/main.ts');
/** tsx's loader by absolute URL, so gateways can run with any cwd (their temp dir). */
export const TSX = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

export interface Ports {
  proxy: number | null;
  proxy_tls: number | null;
  admin: number | null;
  status: number | null;
}

export interface GatewayProcess {
  ports: Ports;
  /** http://127.0.0.1:<proxy port> */
  url: string;
  adminUrl: string;
  statusUrl: string;
  tlsUrl: string;
  dir: string;
  configFile: string;
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Rewrites the config file (the gateway notices within its poll interval). */
  writeConfig(config: unknown): void;
  /** Sends a signal; `stop()` = SIGTERM and wait for the exit code. */
  signal(sig: NodeJS.Signals): void;
  stop(timeoutMs?: number): Promise<number | null>;
  exited: Promise<number | null>;
}

export interface RunOptions {
  env?: Record<string, string>;
  /** Extra CLI args after `start --config FILE`. */
  args?: string[];
  dir?: string;
  /** Wait for the listening line (default true). */
  waitListening?: boolean;
}

/** Spawns the tollgate CLI from source (tsx) with any arguments; resolves when it exits. */
export function runCli(args: string[], opts: { env?: Record<string, string>; cwd?: string; input?: string; timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, TOLLGATE_LOG_LEVEL: 'warn', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tollgate ${args.join(' ')} did not exit within ${opts.timeoutMs ?? 30_000} ms\n${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/**
 * Starts a real gateway process (`tollgate start --config FILE`) on ephemeral ports, with a
 * private data dir, and waits for its `{"event":"listening",…}` line.
 */
export async function startGateway(config: unknown, opts: RunOptions = {}): Promise<GatewayProcess> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'tollgate-gw-'));
  const configFile = join(dir, 'tollgate.yaml');
  const withDefaults = withTestDefaults(config, dir);
  writeFileSync(configFile, stringify(withDefaults));
  return spawnListening(['start', '--config', configFile, ...(opts.args ?? [])], { ...opts, dir }, configFile, !opts.dir);
}

/** Runs any CLI command that prints the `listening` line (start, demo) and waits for it. */
export async function spawnListening(args: string[], opts: RunOptions & { dir: string }, configFile = '', ownsDir = false): Promise<GatewayProcess> {
  const dir = opts.dir;
  const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], {
    cwd: dir,
    env: {
      ...process.env,
      TOLLGATE_PROXY_LISTEN: '127.0.0.1:0',
      TOLLGATE_PROXY_TLS_LISTEN: '127.0.0.1:0',
      TOLLGATE_ADMIN_LISTEN: '127.0.0.1:0',
      TOLLGATE_STATUS_LISTEN: '127.0.0.1:0',
      TOLLGATE_CONFIG_POLL_MS: '200',
      TOLLGATE_TLS_POLL_MS: '200',
      TOLLGATE_LOG_LEVEL: process.env.TOLLGATE_TEST_LOG_LEVEL ?? 'warn',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const ports = await new Promise<Ports>((resolvePorts, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      for (const line of out.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const msg = JSON.parse(line) as { event?: string } & Ports;
          if (msg.event === 'listening') {
            child.stdout.off('data', onData);
            child.stdout.on('data', (more: Buffer) => (out += more.toString()));
            resolvePorts(msg);
            return;
          }
        } catch {
          /* not a JSON line */
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    void exited.then((code) => reject(new Error(`gateway exited (${code}) before listening:\n${err}`)));
    setTimeout(() => reject(new Error(`gateway did not start within 30 s:\n${err}`)), 30_000).unref();
  });
  const gw: GatewayProcess = {
    ports,
    url: `http://127.0.0.1:${ports.proxy}`,
    adminUrl: `http://127.0.0.1:${ports.admin}`,
    statusUrl: `http://127.0.0.1:${ports.status}`,
    tlsUrl: `https://127.0.0.1:${ports.proxy_tls}`,
    dir,
    configFile,
    child,
    stdout: () => out,
    stderr: () => err,
    writeConfig: (c: unknown) => writeFileSync(configFile, stringify(withTestDefaults(c, dir))),
    signal: (sig) => child.kill(sig),
    exited,
    async stop(timeoutMs = 20_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      if (ownsDir) rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
  return gw;
}

/** Puts the store and data dir in the test's temp dir unless the config says otherwise. */
function withTestDefaults(config: unknown, dir: string): unknown {
  const c = (config ?? {}) as Record<string, unknown>;
  const gateway = { data_dir: join(dir, 'data'), store: `sqlite://${join(dir, 'tollgate.db')}`, ...((c.gateway as Record<string, unknown>) ?? {}) };
  return { ...c, gateway };
}
