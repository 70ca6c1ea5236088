/** Claim builders and a log collector for the counter tests. */
import { pino, type Logger } from 'pino';
import type { BudgetClaim, WindowClaim } from '../types.js';

export function windowClaim(key: string, limit: number, over: Partial<WindowClaim> = {}): WindowClaim {
  return { kind: 'window', key, limit, windowMs: 60_000, type: 'fixed', cost: 1, policy: 'redis', faultTolerant: true, ...over };
}

export function budgetClaim(key: string, limit: number, amount: number, reservationId: string, over: Partial<BudgetClaim> = {}): BudgetClaim {
  return {
    kind: 'budget',
    key,
    limit,
    amount,
    reservationId,
    periodEndMs: Date.now() + 86_400_000,
    reservationTtlMs: 60_000,
    policy: 'redis',
    faultTolerant: true,
    ...over,
  };
}

export interface LogLine {
  level: number;
  msg: string;
}

/** A pino logger that keeps its lines in memory. */
export function collectingLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  return { logger, lines };
}

/** A clock the test moves by hand. */
export function fakeClock(start: number): { now: () => number; set: (ms: number) => void; advance: (ms: number) => void } {
  let t = start;
  return {
    now: () => t,
    set: (ms) => {
      t = ms;
    },
    advance: (ms) => {
      t += ms;
    },
  };
}

export function uniquePrefix(name: string): string {
  return `tollgate-test:${name}:${process.pid}:${Date.now()}:`;
}
