/**
 * Claims → KEYS/ARGV for lua/admit.lua and lua/rollback.lua, and the reply → claim states.
 * Flat arrays of numbers and short strings only: no JSON on the hot path.
 *
 * Key layout (prefix default `tollgate:`):
 *   <prefix>rl:<key>              hash  i (window index), c (its count), p (previous window's count)
 *   <prefix>budget:<key>          hash  used, reserved, r:<reservationId> (amount), x (its expiry)
 *   <prefix>budget-exp:<key>      zset  reservationId → expiry (ms, Redis time)
 */
import type { AdmitResult, BudgetClaim, BudgetUsage, Claim, ClaimState } from './types.js';
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

/** One request's admission in a batched admit.lua call. */
export interface AdmissionGroup {
  claims: readonly Claim[];
  /** False: only check whether the claims would fit. */
  commit: boolean;
}

function putClaim(prefix: string, argv: RedisArg[], k: number, a: number, c: Claim): number {
  argv[a + 1] = c.limit;
  if (c.kind === 'window') {
    argv[k++] = windowKey(prefix, c.key);
    argv[a] = 1; // window
    argv[a + 2] = c.windowMs;
    argv[a + 3] = c.type === 'sliding' ? 1 : 0;
    argv[a + 4] = c.cost;
    argv[a + 5] = 0;
  } else {
    argv[k++] = budgetKey(prefix, c.key);
    argv[k++] = budgetExpiryKey(prefix, c.key);
    argv[a] = 2; // budget
    argv[a + 2] = c.amount;
    argv[a + 3] = c.periodEndMs;
    argv[a + 4] = c.reservationTtlMs;
    argv[a + 5] = c.reservationId;
  }
  return k;
}

function keyCountOf(claims: readonly Claim[]): number {
  let n = 0;
  for (const c of claims) n += c.kind === 'window' ? 1 : 2;
  return n;
}

/**
 * admit.lua's `[<sha slot>, numkeys, ...keys, then per group: commit, claim count, ...6 values
 * per claim]`: the admissions of several requests in one call.
 */
export function admitArgv(prefix: string, groups: readonly AdmissionGroup[]): RedisArg[] {
  let keyCount = 0;
  let values = 0;
  for (const g of groups) {
    keyCount += keyCountOf(g.claims);
    values += 2 + g.claims.length * STRIDE;
  }
  const argv = new Array<RedisArg>(2 + keyCount + values);
  argv[0] = '';
  argv[1] = keyCount;
  let k = 2;
  let a = 2 + keyCount;
  for (const g of groups) {
    argv[a++] = g.commit ? 1 : 0;
    argv[a++] = g.claims.length;
    for (const c of g.claims) {
      k = putClaim(prefix, argv, k, a, c);
      a += STRIDE;
    }
  }
  return argv;
}

/** One request's settlement in a batched settle.lua call. */
export interface Settlement {
  claim: BudgetClaim;
  actual: number;
  /** A settlement sent again after a failed call: charged only while its reservation is held. */
  retry?: boolean;
}

/**
 * settle.lua's `[<sha slot>, numkeys, per settlement its budget and expiry keys, then per
 * settlement: reservationId, actual, periodEndMs, reservationTtlMs, retry (0|1)]`.
 */
export function settleArgv(prefix: string, batch: readonly Settlement[]): RedisArg[] {
  const n = batch.length;
  const argv = new Array<RedisArg>(2 + 7 * n);
  argv[0] = '';
  argv[1] = 2 * n;
  for (let i = 0; i < n; i++) {
    const { claim, actual, retry } = batch[i]!;
    argv[2 + 2 * i] = budgetKey(prefix, claim.key);
    argv[3 + 2 * i] = budgetExpiryKey(prefix, claim.key);
    const a = 2 + 2 * n + 5 * i;
    argv[a] = claim.reservationId;
    argv[a + 1] = actual;
    argv[a + 2] = claim.periodEndMs;
    argv[a + 3] = claim.reservationTtlMs;
    argv[a + 4] = retry === true ? 1 : 0;
  }
  return argv;
}

/**
 * renew.lua's `[<sha slot>, numkeys, per reservation its budget and expiry keys, then per
 * reservation: reservationId, periodEndMs, reservationTtlMs]`.
 */
export function renewArgv(prefix: string, claims: readonly BudgetClaim[]): RedisArg[] {
  const n = claims.length;
  const argv = new Array<RedisArg>(2 + 5 * n);
  argv[0] = '';
  argv[1] = 2 * n;
  for (let i = 0; i < n; i++) {
    const claim = claims[i]!;
    argv[2 + 2 * i] = budgetKey(prefix, claim.key);
    argv[3 + 2 * i] = budgetExpiryKey(prefix, claim.key);
    const a = 2 + 2 * n + 3 * i;
    argv[a] = claim.reservationId;
    argv[a + 1] = claim.periodEndMs;
    argv[a + 2] = claim.reservationTtlMs;
  }
  return argv;
}

/** renew.lua's reply: how many of the reservations were still held (and are now extended). */
export function decodeRenewed(reply: unknown, count: number): number {
  if (!isNumberArray(reply, count)) throw new Error(`renew.lua returned an unexpected reply: ${String(reply)}`);
  let held = 0;
  for (let i = 0; i < count; i++) held += reply[i]!;
  return held;
}

/**
 * The `count` integers of a reply written as one comma-separated bulk string (admit.lua,
 * settle.lua), or null when it is anything else or holds another number of them. Parsed by
 * hand into an array of the known size: no intermediate strings.
 */
export function integersOf(reply: unknown, count: number): number[] | null {
  if (typeof reply !== 'string' || reply === '') return null;
  const out = new Array<number>(count);
  let n = 0;
  let value = 0;
  let sign = 1;
  let digits = 0;
  for (let i = 0; i <= reply.length; i++) {
    const c = i === reply.length ? 0x2c : reply.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      value = value * 10 + (c - 0x30);
      digits++;
    } else if (c === 0x2c) {
      if (digits === 0 || n === count) return null;
      out[n++] = sign * value;
      value = 0;
      sign = 1;
      digits = 0;
    } else if (c === 0x2d && digits === 0 && sign === 1) {
      sign = -1;
    } else {
      return null;
    }
  }
  return n === count ? out : null;
}

function isNumberArray(reply: unknown, minLength: number): reply is number[] {
  if (!Array.isArray(reply) || reply.length < minLength) return false;
  for (const v of reply) if (typeof v !== 'number') return false;
  return true;
}

/**
 * Decodes admit.lua's reply, group after group: `admitted,refusedIndex,nowMs,` then
 * `remaining,resetMs,used,reserved` per claim.
 */
export function decodeAdmissions(raw: unknown, groups: readonly AdmissionGroup[]): RedisAdmission[] {
  let expected = 0;
  for (const g of groups) expected += 3 + g.claims.length * 4;
  const reply = integersOf(raw, expected);
  if (reply === null) throw new Error(`admit.lua returned an unexpected reply: ${String(raw)}`);
  const out = new Array<RedisAdmission>(groups.length);
  let at = 0;
  for (let g = 0; g < groups.length; g++) {
    const claims = groups[g]!.claims;
    const states = new Array<ClaimState>(claims.length);
    for (let n = 0; n < claims.length; n++) {
      const c = claims[n]!;
      const j = at + 3 + n * 4;
      states[n] =
        c.kind === 'window'
          ? { limit: c.limit, remaining: reply[j]!, resetMs: reply[j + 1]! }
          : { limit: c.limit, remaining: reply[j]!, resetMs: reply[j + 1]!, used: reply[j + 2]!, reserved: reply[j + 3]! };
    }
    out[g] = { admitted: reply[at] === 1, refusedIndex: reply[at + 1]!, states, degraded: false, nowMs: reply[at + 2]! };
    at += 3 + claims.length * 4;
  }
  return out;
}

/** Decodes `{used, reserved}` (settle.lua, release.lua, usage.lua). */
export function decodeUsage(reply: unknown, script: string): BudgetUsage {
  if (!isNumberArray(reply, 2)) throw new Error(`${script}.lua returned an unexpected reply: ${String(reply)}`);
  return { used: reply[0], reserved: reply[1] };
}

/** `used_1,reserved_1,used_2,reserved_2,…` of a batched script (settle.lua). */
export function decodeUsages(raw: unknown, count: number, script: string): BudgetUsage[] {
  const reply = integersOf(raw, 2 * count);
  if (reply === null) throw new Error(`${script}.lua returned an unexpected reply: ${String(raw)}`);
  const out = new Array<BudgetUsage>(count);
  for (let i = 0; i < count; i++) out[i] = { used: reply[2 * i]!, reserved: reply[2 * i + 1]! };
  return out;
}
