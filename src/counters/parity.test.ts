import { afterAll, expect, it } from 'vitest';
import { sharedRedisUrl } from '../../test/helpers/redis.js';
import { MemoryCounterStore } from './memory.js';
import { RedisCounters } from './redis.js';
import { budgetClaim, uniquePrefix, windowClaim } from './test/claims.js';
import type { Claim } from './types.js';

const redis = new RedisCounters({ url: sharedRedisUrl(), keyPrefix: uniquePrefix('parity') });
afterAll(() => redis.close());

/**
 * lua/admit.lua and memory.ts must decide identically. Redis reports the server time of each
 * decision; replaying the same calls at the same instants in memory must give the same answers.
 */
it('admit.lua and the memory backend agree, decision by decision', async () => {
  expect(await redis.waitReady(5000)).toBe(true);
  let t = 0;
  const clock = () => t;
  const memory = new MemoryCounterStore({ clock, sweepIntervalMs: 0 });
  const periodEndMs = Date.now() + 60_000;
  const claims: Claim[][] = [
    [windowClaim('s', 7, { windowMs: 400, type: 'sliding' })],
    [windowClaim('f', 7, { windowMs: 400, type: 'fixed' })],
    [windowClaim('s', 7, { windowMs: 400, type: 'sliding' }), windowClaim('f2', 9, { windowMs: 300, type: 'fixed', cost: 2 })],
  ];
  let n = 0;
  for (let step = 0; step < 90; step++) {
    const set = [...claims[step % 3], budgetClaim('b', 400, 90 + (step % 7), `r${step}`, { periodEndMs, reservationTtlMs: 250 })];
    const remote = await redis.admit(set, true);
    t = remote.nowMs;
    const local = memory.admitSync(set);
    expect({ step, ...local }).toEqual({ step, admitted: remote.admitted, refusedIndex: remote.refusedIndex, states: remote.states, degraded: false, nowMs: remote.nowMs });
    if (remote.admitted) n++;
    await new Promise((r) => setTimeout(r, 7 + (step % 5) * 9));
  }
  expect(n).toBeGreaterThan(10);
  expect(n).toBeLessThan(90);
  await memory.close();
});
