import type { Kysely } from 'kysely';
import { translateError, type ErrorContext } from './errors.js';
import type { Database } from './tables.js';
import type { ListOptions } from './types.js';

/** What every repository needs: the kysely instance and the store's name for error messages. */
export interface RepoContext {
  db: Kysely<Database>;
  location: string;
}

/** Runs a query, turning driver errors into the store's typed errors (errors.ts). */
export async function guarded<T>(ctx: RepoContext, errCtx: ErrorContext, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw translateError(err, ctx.location, errCtx);
  }
}

/**
 * A read keyed by caller-given text (a token's `iss`, a form's `client_id`, a workspace id): a
 * key holding a NUL character matches no row — PostgreSQL's text cannot hold one and refuses
 * the whole query — so it answers `none` on both backends instead of a driver error (a 500 an
 * unauthenticated caller could cause).
 */
export function lookup<T>(ctx: RepoContext, keys: readonly string[], none: T, run: () => Promise<T>): Promise<T> {
  for (const key of keys) if (key.includes('\0')) return Promise.resolve(none);
  return guarded(ctx, {}, run);
}

/** The LIMIT for a page; SQLite needs one for an OFFSET, so "every row" is the largest safe one. */
export function pageLimit(opts: ListOptions): number | undefined {
  return opts.limit ?? (opts.offset ? Number.MAX_SAFE_INTEGER : undefined);
}
