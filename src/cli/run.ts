import { UserError } from '../core/errors.js';
import { ConfigError } from '../config/load.js';

/**
 * Wraps a command: a user's mistake is one clear line (or one line per config problem) and
 * exit 2; anything else is one line and exit 1. Stack traces only with TOLLGATE_DEBUG=1.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      exitWith(err);
    }
  };
}

export function exitWith(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  if (err instanceof UserError) {
    process.stderr.write(`tollgate: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  const e = err as Error;
  process.stderr.write(`tollgate: ${e?.message ?? String(err)}\n`);
  if (process.env.TOLLGATE_DEBUG) process.stderr.write(`${e?.stack ?? ''}\n`);
  process.exit(1);
}
