import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedRedisUrl, startRedis } from '../../test/helpers/redis.js';
import { waitFor } from '../../test/helpers/ports.js';
import { createCounterStore, type RoutedCounterStore } from './index.js';
import { budgetClaim, uniquePrefix, windowClaim } from './test/claims.js';

const prefix = uniquePrefix('redis');
const stores: RoutedCounterStore[] = [];
let admin: Redis;

async function connected(): Promise<RoutedCounterStore> {
  const store = createCounterStore({ redisUrl: sharedRedisUrl(), keyPrefix: prefix });
  stores.push(store);
  expect(await store.waitReady(5000)).toBe(true);
  return store;
}

async function serverNow(): Promise<number> {
  const [s, us] = await admin.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

/** Sleeps until Redis time is `offset` ms into a fresh window of `windowMs`. */
async function intoNextWindow(windowMs: number, offset: number): Promise<void> {
  const now = await serverNow();
  await new Promise((r) => setTimeout(r, windowMs - (now % windowMs) + offset));
}

const count = (results: { admitted: boolean }[]) => results.filter((r) => r.admitted).length;

beforeAll(() => {
  admin = new Redis(sharedRedisUrl());
});

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  admin.disconnect();
});

describe('Redis counters', () => {
  it('admits exactly 100 of 300 concurrent admits spread over three stores', async () => {
    const replicas = [await connected(), await connected(), await connected()];
    const claim = windowClaim('exact', 100, { windowMs: 3_600_000, type: 'sliding' });
    const results = await Promise.all(Array.from({ length: 300 }, (_, n) => replicas[n % 3].admit([claim])));
    expect(count(results)).toBe(100);
    expect(results.some((r) => r.degraded)).toBe(false);
    const refused = results.find((r) => !r.admitted);
    expect(refused?.states[0].remaining).toBe(0);
    expect(refused?.states[0].resetMs).toBeGreaterThan(0);
  });

  it('is all-or-nothing: a request refused by B consumes nothing from A', async () => {
    const store = await connected();
    const a = windowClaim('aon:a', 5);
    const b = windowClaim('aon:b', 3);
    for (let n = 0; n < 3; n++) expect((await store.admit([a, b])).admitted).toBe(true);
    const fourth = await store.admit([a, b]);
    expect(fourth).toMatchObject({ admitted: false, refusedIndex: 1 });
    expect(fourth.states.map((s) => s.remaining)).toEqual([2, 0]);
    expect(await admin.hget(`${prefix}rl:aon:a`, 'c')).toBe('3');
    expect((await store.admit([a])).states[0].remaining).toBe(1);
  });

  it('fixed windows start over at the boundary; sliding windows still weigh the previous one', async () => {
    const store = await connected();
    const w = 2000;
    const fixed = windowClaim('fvs:fixed', 100, { windowMs: w, type: 'fixed' });
    const sliding = windowClaim('fvs:sliding', 100, { windowMs: w, type: 'sliding' });
    const burst = (c: typeof fixed) => Promise.all(Array.from({ length: 150 }, () => store.admit([c])));
    await intoNextWindow(w, 100);
    const [f1, s1] = await Promise.all([burst(fixed), burst(sliding)]);
    expect([count(f1), count(s1)]).toEqual([100, 100]);
    const refused = s1.find((r) => !r.admitted);
    expect(refused?.states[0].resetMs).toBeGreaterThan(0);
    expect(refused?.states[0].resetMs).toBeLessThanOrEqual(2 * w);
    await intoNextWindow(w, 200);
    const [f2, s2] = await Promise.all([burst(fixed), burst(sliding)]);
    expect(count(f2)).toBe(100);
    expect(count(s2)).toBeGreaterThan(0);
    expect(count(s2)).toBeLessThan(100);
  });

  it('budgets: 40 concurrent reservations of 100 against 1000 admit exactly 10', async () => {
    const [r1, r2] = [await connected(), await connected()];
    const claim = (id: string) => budgetClaim('ws1:2025-01-01', 1000, 100, id);
    const results = await Promise.all(Array.from({ length: 40 }, (_, n) => (n % 2 ? r1 : r2).admit([claim(`r${n}`)])));
    const admitted = results.flatMap((r, n) => (r.admitted ? [n] : []));
    expect(admitted).toHaveLength(10);
    expect(results.find((r) => !r.admitted)?.states[0]).toMatchObject({ remaining: 0, used: 0, reserved: 1000 });

    for (const n of admitted.slice(0, 5)) await r1.settle(claim(`r${n}`), 40);
    expect(await r2.budgetUsage('ws1:2025-01-01', 'redis')).toEqual({ used: 200, reserved: 500 });
    expect(await r1.settle(claim('never-reserved'), 250)).toEqual({ used: 450, reserved: 500 });
    for (const n of admitted.slice(5)) await r2.release(claim(`r${n}`));
    expect(await r1.budgetUsage('ws1:2025-01-01', 'redis')).toEqual({ used: 450, reserved: 0 });
    expect((await r1.admit([{ ...claim('fill'), amount: 550 }])).states[0]).toMatchObject({ remaining: 0, used: 450, reserved: 550 });
    expect((await r2.admit([{ ...claim('over'), amount: 1 }])).admitted).toBe(false);

    await r1.resetBudget('ws1:2025-01-01', 'redis');
    expect(await r2.budgetUsage('ws1:2025-01-01', 'redis')).toEqual({ used: 0, reserved: 0 });
  });

  it('budgets: reservations past their TTL stop counting', async () => {
    const store = await connected();
    const claim = (id: string) => budgetClaim('ws-ttl', 300, 100, id, { reservationTtlMs: 300 });
    expect(count(await Promise.all(['a', 'b', 'c', 'd'].map((id) => store.admit([claim(id)]))))).toBe(3);
    await waitFor(async () => (await store.budgetUsage('ws-ttl', 'redis')).reserved === 0, 'reservations to lapse', 5000);
    expect((await store.admit([claim('e')])).states[0]).toMatchObject({ used: 0, reserved: 100, remaining: 200 });
  });

  it('budgets: renewing keeps a reservation past its TTL; lapsed, settled or unknown ones are not brought back', async () => {
    const store = await connected();
    const claim = (id: string) => budgetClaim('ws-renew', 300, 100, id, { reservationTtlMs: 1000 });
    expect(count(await Promise.all(['long', 'short', 'done'].map((id) => store.admit([claim(id)]))))).toBe(3);
    await store.settle(claim('done'), 40);
    await new Promise((r) => setTimeout(r, 600));
    expect(await store.renew([claim('long'), claim('done'), claim('never')])).toBe(1);
    await new Promise((r) => setTimeout(r, 600)); // ~1200 ms: 'short' lapsed, 'long' holds until ~1600
    expect(await store.budgetUsage('ws-renew', 'redis')).toEqual({ used: 40, reserved: 100 });
    expect(await store.renew([claim('short')])).toBe(0);
    await waitFor(async () => (await store.budgetUsage('ws-renew', 'redis')).reserved === 0, "'long' to lapse once no longer renewed", 5000);
    // The expiry set holds no renewed id any more, and the hash no reservation.
    expect(await admin.zcard(`${prefix}budget-exp:ws-renew`)).toBe(0);
  });

  it('budgets: lapsed reservations are purged before the first admission of a batch, and the batch\'s others see it', async () => {
    const store = await connected();
    const claim = (id: string, ttl = 60_000) => budgetClaim('ws-ttl-batch', 500, 100, id, { reservationTtlMs: ttl });
    expect(count(await Promise.all(['a', 'b', 'c'].map((id) => store.admit([claim(id, 200)]))))).toBe(3);
    await new Promise((r) => setTimeout(r, 400));
    // One turn: one admit.lua call with six groups on the same budget (the sixth does not fit).
    const results = await Promise.all(['d', 'e', 'f', 'g', 'h', 'i'].map((id) => store.admit([claim(id)])));
    expect(results.map((r) => r.admitted)).toEqual([true, true, true, true, true, false]);
    expect(results.map((r) => r.states[0]!.reserved)).toEqual([100, 200, 300, 400, 500, 500]);
    expect(await store.budgetUsage('ws-ttl-batch', 'redis')).toEqual({ used: 0, reserved: 500 });
  });

  it('budgets: a reservation of 0 (GET /v1/models, MCP, an empty embedding) settles and releases like any other', async () => {
    const store = await connected();
    const claim = (id: string, amount: number) => budgetClaim('zero', 1000, amount, id);
    for (const [id, amount] of [['z1', 0], ['z2', 0], ['a', 10], ['z3', 0], ['b', 10]] as const) expect((await store.admit([claim(id, amount)])).admitted).toBe(true);
    expect(await store.settle(claim('z1', 0), 7)).toEqual({ used: 7, reserved: 20 });
    await store.release(claim('z2', 0));
    // One turn's settlements in one call: the zero one among them holds none of the others back.
    const totals = await Promise.all([store.settle(claim('a', 10), 5), store.settle(claim('z3', 0), 6), store.settle(claim('b', 10), 7)]);
    expect(totals.map((t) => t.used)).toEqual([12, 18, 25]);
    expect(await store.budgetUsage('zero', 'redis')).toEqual({ used: 25, reserved: 0 });
  });

  it('settlements of one event-loop turn go to Redis in one call, each answered with the totals after it', async () => {
    // A private Redis: other test files share the common one, and their commands would count.
    const server = await startRedis();
    const store = createCounterStore({ redisUrl: server.url, keyPrefix: prefix });
    expect(await store.waitReady(5000)).toBe(true);
    const own = new Redis(server.url);
    const claims = Array.from({ length: 60 }, (_, n) => budgetClaim(`batch:${n % 3}`, 100_000, 500, `b${n}`));
    for (const c of claims) expect((await store.admit([c])).admitted).toBe(true);
    const evalshaCalls = async () => Number(/cmdstat_evalsha:calls=(\d+)/.exec(await own.info('commandstats'))?.[1] ?? 0);
    const before = await evalshaCalls();
    const totals = await Promise.all(claims.map((c, n) => store.settle(c, n + 1)));
    expect((await evalshaCalls()) - before).toBe(1);
    // Per workspace: each answer is the running total (in call order), reservations dropped one by one.
    for (let ws = 0; ws < 3; ws++) {
      const mine = totals.filter((_, n) => n % 3 === ws);
      let used = 0;
      mine.forEach((t, k) => {
        used += 3 * k + ws + 1;
        expect(t).toEqual({ used, reserved: 500 * (20 - k - 1) });
      });
      expect(await store.budgetUsage(`batch:${ws}`, 'redis')).toEqual({ used, reserved: 0 });
    }
    await store.close();
    own.disconnect();
    await server.stop();
  });

  it('admissions of one event-loop turn go to Redis in one call per 64, decided in call order', async () => {
    const server = await startRedis();
    const store = createCounterStore({ redisUrl: server.url, keyPrefix: prefix });
    expect(await store.waitReady(5000)).toBe(true);
    const own = new Redis(server.url);
    const evalshaCalls = async () => Number(/cmdstat_evalsha:calls=(\d+)/.exec(await own.info('commandstats'))?.[1] ?? 0);
    await store.admit([windowClaim('turn:warm', 1)]); // loads the script (EVAL, then EVALSHA)
    const before = await evalshaCalls();
    const window = windowClaim('turn:w', 50, { windowMs: 3_600_000 });
    const results = await Promise.all(Array.from({ length: 70 }, (_, n) => store.admit([window, budgetClaim('turn:b', 100_000, 10, `t${n}`)])));
    expect((await evalshaCalls()) - before).toBe(2);
    results.forEach((r, n) => {
      expect(r.admitted).toBe(n < 50); // the first 50 in call order, as 70 separate calls would
      expect(r.states[0]!.remaining).toBe(Math.max(0, 50 - n - 1));
      // All-or-nothing per request: the refused ones reserved nothing.
      expect(r.states[1]).toMatchObject({ used: 0, reserved: 10 * Math.min(n + (n < 50 ? 1 : 0), 50) });
    });
    expect(await store.budgetUsage('turn:b', 'redis')).toEqual({ used: 0, reserved: 500 });
    await store.close();
    own.disconnect();
    await server.stop();
  });

  it('close() still sends admissions waiting for the end of the turn', async () => {
    const store = createCounterStore({ redisUrl: sharedRedisUrl(), keyPrefix: prefix });
    expect(await store.waitReady(5000)).toBe(true);
    const pending = store.admit([windowClaim('close:w', 5, { faultTolerant: false })]);
    const closing = store.close();
    expect(await pending).toMatchObject({ admitted: true, degraded: false });
    await closing;
    expect(await admin.hget(`${prefix}rl:close:w`, 'c')).toBe('1');
  });

  it('keeps keys under the prefix, each with an expiry', async () => {
    const store = await connected();
    await store.admit([windowClaim('layout:w', 10, { windowMs: 10_000 }), budgetClaim('layout:b', 10, 1, 'rid')]);
    const keys = (await admin.keys(`${prefix}*layout*`)).sort();
    expect(keys).toEqual([`${prefix}budget-exp:layout:b`, `${prefix}budget:layout:b`, `${prefix}rl:layout:w`]);
    for (const key of keys) expect(await admin.pttl(key)).toBeGreaterThan(0);
    const hash = await admin.hgetall(`${prefix}budget:layout:b`);
    expect(hash).toEqual({ reserved: '1', 'r:rid': '1', x: expect.stringMatching(/^\d+$/) });
    // x is the expiry the hash was given: the period's end plus the hour of margin.
    expect(Math.abs(Number(hash.x) - (Date.now() + (await admin.pttl(`${prefix}budget:layout:b`))))).toBeLessThan(2000);
    expect(await admin.hgetall(`${prefix}rl:layout:w`)).toMatchObject({ c: '1', p: '0' });
  });

  it('sets a window key\'s expiry when its window starts, not on every admission', async () => {
    const store = await connected();
    const key = `${prefix}rl:expiry:w`;
    const sliding = windowClaim('expiry:w', 100, { windowMs: 2000, type: 'sliding' });
    await intoNextWindow(2000, 100);
    await store.admit([sliding]);
    // A sliding window's key lives to the end of the next window (its count is `p` there).
    const first = await admin.pttl(key);
    expect(first).toBeGreaterThan(3500);
    expect(first).toBeLessThanOrEqual(3950); // timers may fire a millisecond early
    const at = Number(await admin.call('PEXPIRETIME', key));
    // Later admissions in the same window leave it: PERSIST shows whether one set it again.
    await admin.persist(key);
    await store.admit([sliding]);
    expect(await admin.pttl(key)).toBe(-1);
    await admin.pexpireat(key, at);
    // The next window sets it again, for that window.
    await intoNextWindow(2000, 100);
    await store.admit([sliding]);
    // (PEXPIRE is relative: Redis's clock may have moved a millisecond past the script's TIME.)
    expect(Math.abs(Number(await admin.call('PEXPIRETIME', key)) - (at + 2000))).toBeLessThanOrEqual(2);
    expect(await admin.hgetall(key)).toMatchObject({ c: '1', p: '2' });
    // A fixed window's key ends with its window.
    await store.admit([windowClaim('expiry:f', 100, { windowMs: 2000 })]);
    expect(Math.abs(Number(await admin.call('PEXPIRETIME', `${prefix}rl:expiry:f`)) - at)).toBeLessThanOrEqual(2);
  });

  it('gives a budget\'s zset an expiry each time it comes back, and moves the hash\'s only when it must', async () => {
    const store = await connected();
    const hkey = `${prefix}budget:expiry:b`;
    const zkey = `${prefix}budget-exp:expiry:b`;
    const periodEndMs = Date.now() + 3_600_000;
    const claim = (id: string, over = {}) => budgetClaim('expiry:b', 1000, 10, id, { periodEndMs, ...over });
    for (let round = 0; round < 3; round++) {
      // Admit then settle: the settlement empties the zset, which Redis then deletes.
      expect((await store.admit([claim(`r${round}`)])).admitted).toBe(true);
      const zttl = await admin.pttl(zkey);
      expect(zttl).toBeGreaterThan(2 * 3_600_000 - 5000);
      await store.settle(claim(`r${round}`), 3);
      expect(await admin.exists(zkey)).toBe(0);
    }
    const hashTtl = await admin.pttl(hkey);
    expect(hashTtl).toBeGreaterThan(2 * 3_600_000 - 5000);
    // With the hash's expiry already far enough, an admission leaves it as it is...
    await admin.persist(hkey);
    await store.admit([claim('same')]);
    expect(await admin.pttl(hkey)).toBe(-1);
    // ...and one that needs a later expiry (its reservation outlives the period) moves it,
    // the zset's with it.
    await store.admit([claim('later', { reservationTtlMs: 4 * 3_600_000 })]);
    expect(await admin.pttl(hkey)).toBeGreaterThan(5 * 3_600_000 - 5000);
    expect(await admin.pttl(zkey)).toBeGreaterThan(5 * 3_600_000 - 5000);
    await store.settle(claim('same'), 1);
    await store.settle(claim('later', { reservationTtlMs: 4 * 3_600_000 }), 1);
    expect(await store.budgetUsage('expiry:b', 'redis')).toEqual({ used: 11, reserved: 0 });
  });

  it('mixed policies: a local refusal consumes nothing in Redis, even when it loses a race', async () => {
    const store = await connected();
    const shared = windowClaim('mixed:shared', 100);
    const local = windowClaim('mixed:local', 3, { policy: 'local' });
    // The local part is committed first: seven are refused there and never reach Redis's count.
    const results = await Promise.all(Array.from({ length: 10 }, () => store.admit([shared, local])));
    expect(count(results)).toBe(3);
    expect(results.filter((r) => !r.admitted).every((r) => r.refusedIndex === 1)).toBe(true);
    expect(await admin.hget(`${prefix}rl:mixed:shared`, 'c')).toBe('3');
    // Refused by the local pre-check: Redis is only asked, and reports the shared state.
    const refused = await store.admit([shared, local]);
    expect(refused).toMatchObject({ admitted: false, refusedIndex: 1, states: [{ remaining: 97 }, { remaining: 0 }] });
    expect(await admin.hget(`${prefix}rl:mixed:shared`, 'c')).toBe('3');
  });

  it('mixed policies: requests a local limit refuses take no Redis slot from other callers (a burst from two IPs)', async () => {
    const store = await connected();
    const service = windowClaim('mixed3:svc', 4); // shared by every caller
    const ipA = windowClaim('mixed3:ip:A', 2, { policy: 'local' });
    const ipB = windowClaim('mixed3:ip:B', 2, { policy: 'local' });
    const results = await Promise.all([ipA, ipA, ipA, ipA, ipB, ipB].map((ip) => store.admit([ip, service])));
    // A: 2 of 4 (its local limit), B: 2 of 2; the service's 4 are exactly used.
    expect(results.map((r) => (r.admitted ? 'Y' : 'n')).join('')).toBe('YYnnYY');
    expect(await admin.hget(`${prefix}rl:mixed3:svc`, 'c')).toBe('4');
  });

  it('mixed policies: a Redis refusal consumes nothing locally', async () => {
    const store = await connected();
    const shared = windowClaim('mixed2:shared', 2);
    const local = windowClaim('mixed2:local', 10, { policy: 'local' });
    const results = [];
    for (let n = 0; n < 4; n++) results.push(await store.admit([local, shared]));
    expect(results.map((r) => r.refusedIndex)).toEqual([-1, -1, 1, 1]);
    expect(results[3].states[0].remaining).toBe(8);
  });
});

describe('Redis counters: the eviction policy', () => {
  it('warns once at start when Redis may evict keys, and not with noeviction', async () => {
    const own = await startRedis();
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) });
    try {
      const store = createCounterStore({ redisUrl: own.url, keyPrefix: prefix, logger });
      stores.push(store);
      expect(await store.waitReady(5000)).toBe(true);
      await new Promise((r) => setTimeout(r, 300));
      expect(lines.filter((l) => l.includes('maxmemory-policy'))).toEqual([]); // redis-server's default is noeviction
      const conf = new Redis(own.url);
      await conf.config('SET', 'maxmemory-policy', 'volatile-ttl');
      conf.disconnect();
      const evicting = createCounterStore({ redisUrl: own.url, keyPrefix: prefix, logger });
      stores.push(evicting);
      expect(await evicting.waitReady(5000)).toBe(true);
      const warning = await waitFor(() => lines.find((l) => l.includes('maxmemory-policy volatile-ttl')), 'the eviction warning');
      expect(JSON.parse(warning)).toMatchObject({ level: 40, maxmemory_policy: 'volatile-ttl' });
    } finally {
      await own.stop();
    }
  });
});
