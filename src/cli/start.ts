import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import { builtinRegistry } from '../plugins/index.js';
import { ConfigSource } from '../server/configSource.js';
import { Gateway } from '../server/gateway.js';
import { createLogger } from './logger.js';
import { UserError } from '../core/errors.js';

/** `--config`, else TOLLGATE_CONFIG, else ./tollgate.yaml when present. */
export function resolveConfigFile(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | null {
  const file = flag ?? env.TOLLGATE_CONFIG;
  if (file) return file;
  return existsSync('tollgate.yaml') ? 'tollgate.yaml' : null;
}

/** Runs a gateway until SIGTERM/SIGINT; prints the `listening` line once every listener is up. */
export async function runGateway(source: ConfigSource, logger?: Logger): Promise<Gateway> {
  // SIGHUP's default action ends the process: a config-reloader sidecar signalling while the
  // gateway starts (migrations, a slow store) must not kill it. Remembered, applied after start.
  let earlyHup = false;
  const onEarlyHup = () => {
    earlyHup = true;
  };
  process.on('SIGHUP', onEarlyHup);
  const config = await source.load();
  const log = logger ?? createLogger(process.env.TOLLGATE_LOG_LEVEL ?? config.gateway.log_level);
  const gateway = new Gateway(config, { source, registry: builtinRegistry(), logger: log });
  await gateway.start();
  // Handlers first, then the `listening` line: whoever waits for that line (a test, a
  // config-reloader sidecar) may signal at once.
  process.off('SIGHUP', onEarlyHup);
  process.on('SIGHUP', () => void gateway.reload('SIGHUP'));
  if (earlyHup) void gateway.reload('SIGHUP during start');
  source.watch(() => void gateway.reload('config file changed'), log, Number(process.env.TOLLGATE_CONFIG_POLL_MS ?? 2000));
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: draining in-flight requests');
    gateway.shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.stdout.write(`${JSON.stringify({ event: 'listening', ...gateway.ports })}\n`);
  return gateway;
}

export async function startCommand(opts: { config?: string }): Promise<void> {
  const file = resolveConfigFile(opts.config);
  if (file === null) throw new UserError('no config file: pass --config FILE, set TOLLGATE_CONFIG, or create ./tollgate.yaml (see docs/configuration.md)');
  await runGateway(ConfigSource.fromFile(file, builtinRegistry()));
}
