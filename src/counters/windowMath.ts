/**
 * Window arithmetic shared by the memory backend and mirrored line for line in lua/admit.lua
 * (same IEEE-754 operations in the same order, so both backends decide identically).
 *
 * A window counter keeps three numbers: `i` (index of the current window, floor(now/windowMs)),
 * `c` (count in window i) and `p` (count in window i − 1). Reading rolls them forward.
 */

/** Budget keys live this long past the end of their period (late settles still find them). */
export const BUDGET_KEY_MARGIN_MS = 3_600_000;

/** Counts of the current and previous window as seen at window index `idx`. */
export interface Rolled {
  cur: number;
  prev: number;
}

/** Rolls a stored (i, c, p) triple to window `idx` (writes into `out`, returns it). */
export function rollWindow(i: number, c: number, p: number, idx: number, out: Rolled): Rolled {
  if (i === idx || i > idx) {
    // i > idx: the clock went back; keep counting in the newest window seen.
    out.cur = c;
    out.prev = p;
  } else if (i === idx - 1) {
    out.cur = 0;
    out.prev = c;
  } else {
    out.cur = 0;
    out.prev = 0;
  }
  return out;
}

/** Sliding estimate: previous × (1 − elapsed/windowMs) + current. */
export function slidingEstimate(cur: number, prev: number, elapsed: number, windowMs: number): number {
  return prev * ((windowMs - elapsed) / windowMs) + cur;
}

/**
 * Milliseconds until a request of `cost` fits a sliding window whose counts (after the current
 * decision) are `cur`/`prev`, `elapsed` ms into the current window; when it fits now, the time
 * to the end of the current window.
 */
export function slidingResetMs(limit: number, cost: number, cur: number, prev: number, elapsed: number, windowMs: number): number {
  const toEnd = windowMs - elapsed;
  if (cur + cost <= limit) {
    if (prev === 0) return toEnd;
    // prev × (toEnd − t)/windowMs + cur + cost <= limit
    const t = Math.ceil(toEnd - ((limit - cost - cur) * windowMs) / prev);
    return t <= 0 ? toEnd : t;
  }
  if (cost > limit) return toEnd + windowMs;
  // Next window: cur becomes prev; cur × (windowMs − e)/windowMs + cost <= limit
  return toEnd + Math.ceil(windowMs - ((limit - cost) * windowMs) / cur);
}
