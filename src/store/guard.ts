import type { Kysely } from 'kysely';
import { StoreUnavailableError, translateError, type ErrorContext } from './errors.js';
import type { StoreHealth } from './health.js';
import type { Database } from './tables.js';
import type { ListOptions } from './types.js';

/** What every repository needs: the kysely instance, the store's name for error messages, its health. */
export interface RepoContext {
  db: Kysely<Database>;
  location: string;
  /** Told of every query's outcome (reachable / unreachable). */
  health: StoreHealth;
  /** Longest a single-row read (`lookup`) waits for an answer; 0 = no deadline (SQLite answers synchronously). */
  lookupTimeoutMs: number;
}

/**
 * Runs a query, turning driver errors into the store's typed errors (errors.ts), and tells the
 * store's health whether it could be reached. While the store is known to be unreachable, one
 * call at a time goes through as the probe (StoreHealth.attempt) and the others fail at once
 * with StoreUnavailableError: an Admin API or OAuth request meeting a hung database waits for
 * it once, not once each for the pool's query timeout (15 s).
 */
export function guarded<T>(ctx: RepoContext, errCtx: ErrorContext, run: () => Promise<T>): Promise<T> {
  if (ctx.health.reachable) return translated(ctx, errCtx, run);
  const probe = ctx.health.attempt(() => translated(ctx, errCtx, run), '');
  return probe ?? Promise.reject(ctx.health.error());
}

/** `run`, its driver errors as the store's typed errors, its outcome told to the health. */
async function translated<T>(ctx: RepoContext, errCtx: ErrorContext, run: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await run();
  } catch (err) {
    const translated = translateError(err, ctx.location, errCtx);
    if (translated instanceof StoreUnavailableError) ctx.health.failed(translated);
    throw translated;
  }
  ctx.health.succeeded();
  return result;
}

/**
 * A read keyed by caller-given text (a token's `iss`, a form's `client_id`, a workspace id): a
 * key holding a NUL character matches no row — PostgreSQL's text cannot hold one and refuses
 * the whole query — so it answers `none` on both backends instead of a driver error (a 500 an
 * unauthenticated caller could cause).
 *
 * These are the request path's reads: one that gets no answer within `lookupTimeoutMs` (a
 * server that accepts but never answers: stopped, or a network dropping packets) fails as
 * StoreUnavailableError then, instead of after the pool's query timeout (15 s); the query
 * itself ends with that timeout.
 */
export function lookup<T>(ctx: RepoContext, keys: readonly string[], none: T, run: () => Promise<T>): Promise<T> {
  for (const key of keys) if (key.includes('\0')) return Promise.resolve(none);
  // Not `guarded`: a request-path read runs as the caches decide (StoreCache already asked the
  // health for its probe), bounded by the lookup deadline instead.
  const answer = translated(ctx, {}, run);
  return ctx.lookupTimeoutMs > 0 ? within(ctx, answer) : answer;
}

/** `answer`, or StoreUnavailableError (reported to the health) once the lookup deadline passed. */
function within<T>(ctx: RepoContext, answer: Promise<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      const err = new StoreUnavailableError(ctx.location, `no answer within ${ctx.lookupTimeoutMs} ms`);
      ctx.health.failed(err);
      reject(err);
    }, ctx.lookupTimeoutMs);
    answer.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/** The LIMIT for a page; SQLite needs one for an OFFSET, so "every row" is the largest safe one. */
export function pageLimit(opts: ListOptions): number | undefined {
  return opts.limit ?? (opts.offset ? Number.MAX_SAFE_INTEGER : undefined);
}
