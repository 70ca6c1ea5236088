/**
 * The budget day in a time zone: its local date (part of the counter key) and the instant of
 * the next local midnight (when the budget resets). Computed with Intl only, so every IANA zone
 * and its daylight-saving rules work, including days of 23 or 25 hours and zones whose day
 * starts at 01:00 when midnight is skipped.
 *
 * The boundaries are found by bisection on the instant where the local date changes (about 30
 * Intl calls), once per day per plugin entry; every other call is two comparisons.
 */

export interface BudgetDay {
  /** Local date, `YYYY-MM-DD`. */
  date: string;
  /** First instant of the local day (ms since the epoch). */
  startMs: number;
  /** First instant of the next local day: when the budget resets. */
  endMs: number;
}

/** Local days are at most 25 h (DST) in practice; 48 h bounds the odd historical ones. */
const SEARCH_SPAN_MS = 48 * 3_600_000;

export class DailyPeriod {
  private readonly format: Intl.DateTimeFormat;
  private current: BudgetDay | null = null;

  constructor(readonly timeZone: string) {
    this.format = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
  }

  /** The budget day containing `nowMs`. */
  at(nowMs: number): BudgetDay {
    const c = this.current;
    if (c !== null && nowMs >= c.startMs && nowMs < c.endMs) return c;
    const day = this.compute(nowMs);
    this.current = day;
    return day;
  }

  /** Local date of an instant, `YYYY-MM-DD`. */
  dateOf(ms: number): string {
    let y = '';
    let m = '';
    let d = '';
    for (const part of this.format.formatToParts(ms)) {
      if (part.type === 'year') y = part.value;
      else if (part.type === 'month') m = part.value;
      else if (part.type === 'day') d = part.value;
    }
    return `${y.padStart(4, '0')}-${m}-${d}`;
  }

  private compute(nowMs: number): BudgetDay {
    const date = this.dateOf(nowMs);
    // endMs: the first instant after now whose date differs; startMs: the first one that has it.
    let lo = nowMs;
    let hi = nowMs + SEARCH_SPAN_MS;
    while (hi - lo > 1) {
      const mid = lo + Math.floor((hi - lo) / 2);
      if (this.dateOf(mid) === date) lo = mid;
      else hi = mid;
    }
    const endMs = hi;
    lo = nowMs - SEARCH_SPAN_MS;
    hi = nowMs;
    while (hi - lo > 1) {
      const mid = lo + Math.floor((hi - lo) / 2);
      if (this.dateOf(mid) === date) hi = mid;
      else lo = mid;
    }
    return { date, startMs: hi, endMs };
  }
}
