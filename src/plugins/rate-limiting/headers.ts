import { Slot, type RequestContext } from '../../core/context.js';

/**
 * Rate-limit response headers (SPEC §7), written by every instance of a route into one place:
 *
 * - `X-RateLimit-Limit-<Period>` / `X-RateLimit-Remaining-<Period>` for each configured period.
 *   When two instances configure the same period (per IP and per user, both per minute), the
 *   one with fewer requests left is shown: that is the one the client will hit.
 * - `RateLimit-Limit` / `RateLimit-Remaining` / `RateLimit-Reset` (seconds) and
 *   `X-RateLimit-Reset` (Unix seconds) for the most restrictive window of all instances:
 *   fewest remaining, on a tie the longer window (Kong's rule).
 */

/** Header names of one configured period, built once per plugin entry. */
export interface WindowHeaders {
  limitName: string;
  remainingName: string;
  limitValue: string;
  limit: number;
  windowMs: number;
}

/** The most restrictive window shown so far for this request (shared by all instances). */
interface Tightest {
  limit: number;
  remaining: number;
  windowMs: number;
  resetMs: number;
}

const TIGHTEST = new Slot<Tightest>('rate-limiting:tightest');

export function windowHeaders(header: string, limit: number, windowMs: number): WindowHeaders {
  return {
    limitName: `X-RateLimit-Limit-${header}`,
    remainingName: `X-RateLimit-Remaining-${header}`,
    limitValue: String(limit),
    limit,
    windowMs,
  };
}

/** Shows one window's numbers, unless an instance already showed a tighter one for the period. */
export function showWindow(ctx: RequestContext, w: WindowHeaders, remaining: number, resetMs: number): void {
  const out = ctx.responseHeaders;
  const shown = out[w.remainingName];
  if (shown === undefined || Number(shown) > remaining) {
    out[w.limitName] = w.limitValue;
    out[w.remainingName] = String(remaining);
  }
  const t = ctx.get(TIGHTEST);
  if (t === undefined) {
    ctx.set(TIGHTEST, { limit: w.limit, remaining, windowMs: w.windowMs, resetMs });
  } else if (remaining < t.remaining || (remaining === t.remaining && w.windowMs > t.windowMs)) {
    t.limit = w.limit;
    t.remaining = remaining;
    t.windowMs = w.windowMs;
    t.resetMs = resetMs;
  }
}

/** Writes the RateLimit-* and X-RateLimit-Reset headers from the tightest window shown. */
export function showTightest(ctx: RequestContext, nowMs: number): void {
  const t = ctx.get(TIGHTEST);
  if (t === undefined) return;
  const out = ctx.responseHeaders;
  out['RateLimit-Limit'] = String(t.limit);
  out['RateLimit-Remaining'] = String(t.remaining);
  out['RateLimit-Reset'] = String(Math.max(0, Math.ceil(t.resetMs / 1000)));
  out['X-RateLimit-Reset'] = String(Math.ceil((nowMs + t.resetMs) / 1000));
}

/** Retry-After (seconds, at least 1). */
export function retryAfter(resetMs: number): string {
  return String(Math.max(1, Math.ceil(resetMs / 1000)));
}
