/**
 * Claims → KEYS/ARGV for lua/admit.lua and lua/rollback.lua, and the reply → claim states.
 * Flat arrays of numbers and short strings only: no JSON on the hot path.
 *
 * Key layout (prefix default `tollgate:`):
 *   <prefix>rl:<key>              hash  i (window index), c (its count), p (previous window's count)
 *   <prefix>budget:<key>          hash  used, reserved, r:<reservationId> (amount)
 *   <prefix>budget-exp:<key>      zset  reservationId → expiry (ms, Redis time)
 */
import type { AdmitResult, BudgetUsage, Claim, ClaimState } from './types.js';
import type { RedisArg } from './luaScript.js';

/** Values per claim in ARGV (see the header of lua/admit.lua). */
const STRIDE = 6;

/** An admission as Redis decided it, with the server time it was decided at. */
export interface RedisAdmission extends AdmitResult {
  nowMs: number;
}

export function windowKey(prefix: string, key: string): string {
  return `${prefix}rl:${key}`;
}

export function budgetKey(prefix: string, key: string): string {
  return `${prefix}budget:${key}`;
}

export function budgetExpiryKey(prefix: string, key: string): string {
  return `${prefix}budget-exp:${key}`;
}

/**
 * `[<sha slot>, numkeys, ...keys, first, ...6 values per claim]`; `first` is the commit flag
 * (admit.lua) or the admission time (rollback.lua).
 */
export function claimsArgv(prefix: string, claims: readonly Claim[], first: number): RedisArg[] {
  let keyCount = 0;
  for (const c of claims) keyCount += c.kind === 'window' ? 1 : 2;
  const argv = new Array<RedisArg>(3 + keyCount + claims.length * STRIDE);
  argv[0] = '';
  argv[1] = keyCount;
  let k = 2;
  let a = 2 + keyCount;
  argv[a++] = first;
  for (const c of claims) {
    argv[a + 1] = c.limit;
    if (c.kind === 'window') {
      argv[k++] = windowKey(prefix, c.key);
      argv[a] = 'w';
      argv[a + 2] = c.windowMs;
      argv[a + 3] = c.type === 'sliding' ? 1 : 0;
      argv[a + 4] = c.cost;
      argv[a + 5] = '';
    } else {
      argv[k++] = budgetKey(prefix, c.key);
      argv[k++] = budgetExpiryKey(prefix, c.key);
      argv[a] = 'b';
      argv[a + 2] = c.amount;
      argv[a + 3] = c.periodEndMs;
      argv[a + 4] = c.reservationTtlMs;
      argv[a + 5] = c.reservationId;
    }
    a += STRIDE;
  }
  return argv;
}

function isNumberArray(reply: unknown, minLength: number): reply is number[] {
  if (!Array.isArray(reply) || reply.length < minLength) return false;
  for (const v of reply) if (typeof v !== 'number') return false;
  return true;
}

/** Decodes admit.lua's `{admitted, refusedIndex, nowMs, (remaining, resetMs, used, reserved)…}`. */
export function decodeAdmission(reply: unknown, claims: readonly Claim[]): RedisAdmission {
  if (!isNumberArray(reply, 3 + claims.length * 4)) throw new Error(`admit.lua returned an unexpected reply: ${String(reply)}`);
  const states = new Array<ClaimState>(claims.length);
  for (let n = 0; n < claims.length; n++) {
    const c = claims[n];
    const j = 3 + n * 4;
    states[n] =
      c.kind === 'window'
        ? { limit: c.limit, remaining: reply[j], resetMs: reply[j + 1] }
        : { limit: c.limit, remaining: reply[j], resetMs: reply[j + 1], used: reply[j + 2], reserved: reply[j + 3] };
  }
  return { admitted: reply[0] === 1, refusedIndex: reply[1], states, degraded: false, nowMs: reply[2] };
}

/** Decodes `{used, reserved}` (settle.lua, release.lua, usage.lua). */
export function decodeUsage(reply: unknown, script: string): BudgetUsage {
  if (!isNumberArray(reply, 2)) throw new Error(`${script}.lua returned an unexpected reply: ${String(reply)}`);
  return { used: reply[0], reserved: reply[1] };
}

/** `{used_1, reserved_1, used_2, reserved_2, …}` of a batched script (settle.lua). */
export function decodeUsages(reply: unknown, count: number, script: string): BudgetUsage[] {
  if (!isNumberArray(reply, 2 * count)) throw new Error(`${script}.lua returned an unexpected reply: ${String(reply)}`);
  const out = new Array<BudgetUsage>(count);
  for (let i = 0; i < count; i++) out[i] = { used: reply[2 * i]!, reserved: reply[2 * i + 1]! };
  return out;
}

/**
 * After rollback.lua undid an admission, turns its states back into "as it stands": windows
 * get their cost back, budgets lose the reservation. (A sliding window's resetMs is left as
 * computed with the cost counted: an upper bound.)
 */
export function undoStates(claims: readonly Claim[], states: ClaimState[]): void {
  for (let n = 0; n < claims.length; n++) {
    const c = claims[n];
    const s = states[n];
    if (c.kind === 'window') {
      s.remaining = Math.min(c.limit, s.remaining + c.cost);
    } else {
      s.reserved = (s.reserved ?? 0) - c.amount;
      s.remaining = Math.max(0, c.limit - (s.used ?? 0) - s.reserved);
    }
  }
}
