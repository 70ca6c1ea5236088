import { afterEach, describe, expect, it } from 'vitest';
import { MemoryCounterStore } from './memory.js';
import { budgetClaim, fakeClock, windowClaim } from './test/claims.js';

const T0 = 1_700_000_000_000; // a multiple of 1000: window boundaries fall on whole seconds

describe('MemoryCounterStore', () => {
  let store: MemoryCounterStore;
  afterEach(() => store.close());

  it('admits exactly the limit under 300 concurrent admits', async () => {
    store = new MemoryCounterStore();
    const claim = windowClaim('burst', 100, { policy: 'local' });
    const results = await Promise.all(Array.from({ length: 300 }, () => store.admit([claim])));
    expect(results.filter((r) => r.admitted)).toHaveLength(100);
    expect(results.every((r) => !r.degraded)).toBe(true);
  });

  it('is all-or-nothing: a request refused by B consumes nothing from A', () => {
    const clock = fakeClock(T0);
    store = new MemoryCounterStore({ clock: clock.now });
    const a = windowClaim('a', 5, { policy: 'local' });
    const b = windowClaim('b', 3, { policy: 'local' });
    for (let n = 0; n < 3; n++) expect(store.admitSync([a, b]).admitted).toBe(true);
    const fourth = store.admitSync([a, b]);
    expect(fourth).toMatchObject({ admitted: false, refusedIndex: 1 });
    expect(fourth.states.map((s) => s.remaining)).toEqual([2, 0]);
    // A alone: 3 were counted, not 4.
    expect(store.admitSync([a]).states[0].remaining).toBe(1);
  });

  it('fixed windows reset at the boundary; sliding windows weigh the previous window', () => {
    const clock = fakeClock(T0 + 900);
    store = new MemoryCounterStore({ clock: clock.now });
    const fixed = windowClaim('f', 10, { policy: 'local', windowMs: 1000, type: 'fixed' });
    const sliding = windowClaim('s', 10, { policy: 'local', windowMs: 1000, type: 'sliding' });
    const burst = (c: typeof fixed, n: number) => Array.from({ length: n }, () => store.admitSync([c])).filter((r) => r.admitted).length;
    expect(burst(fixed, 15)).toBe(10);
    expect(burst(sliding, 15)).toBe(10);
    clock.set(T0 + 1100); // 100 ms into the next window
    expect(burst(fixed, 15)).toBe(10);
    // estimate = 10 × 0.9 + 0 = 9 → one more fits
    expect(burst(sliding, 15)).toBe(1);
    clock.set(T0 + 1600); // 10 × 0.4 + 1 = 5 → five more
    expect(burst(sliding, 15)).toBe(5);
    clock.set(T0 + 3000); // two windows later: all forgotten
    expect(burst(sliding, 15)).toBe(10);
  });

  it('resetMs of a refused sliding window is exactly when a slot frees', () => {
    const clock = fakeClock(T0 + 200);
    store = new MemoryCounterStore({ clock: clock.now });
    const c = windowClaim('r', 4, { policy: 'local', windowMs: 1000, type: 'sliding' });
    for (let n = 0; n < 4; n++) store.admitSync([c]);
    const refused = store.admitSync([c]);
    expect(refused.admitted).toBe(false);
    const at = T0 + 200 + refused.states[0].resetMs;
    clock.set(at - 1);
    expect(store.admitSync([c]).admitted).toBe(false);
    clock.set(at);
    expect(store.admitSync([c]).admitted).toBe(true);
  });

  it('resetMs of a fixed window is the window end', () => {
    const clock = fakeClock(T0 + 250);
    store = new MemoryCounterStore({ clock: clock.now });
    const c = windowClaim('x', 1, { policy: 'local', windowMs: 1000 });
    expect(store.admitSync([c]).states[0]).toEqual({ limit: 1, remaining: 0, resetMs: 750 });
    expect(store.admitSync([c])).toMatchObject({ admitted: false, states: [{ remaining: 0, resetMs: 750 }] });
  });

  it('budgets: exact concurrent reservations, settle, release, expiry', async () => {
    const clock = fakeClock(T0);
    store = new MemoryCounterStore({ clock: clock.now });
    const claim = (id: string) => budgetClaim('ws1:day', 1000, 100, id, { policy: 'local', periodEndMs: T0 + 86_400_000, reservationTtlMs: 30_000 });
    const results = await Promise.all(Array.from({ length: 40 }, (_, n) => store.admit([claim(`r${n}`)])));
    const admitted = results.flatMap((r, n) => (r.admitted ? [n] : []));
    expect(admitted).toHaveLength(10);
    expect(results[admitted[9]].states[0]).toMatchObject({ remaining: 0, used: 0, reserved: 1000 });
    // settle five at 40 tokens each: 5 × 60 freed
    for (const n of admitted.slice(0, 5)) await store.settle(claim(`r${n}`), 40);
    expect(await store.budgetUsage('ws1:day', 'local')).toEqual({ used: 200, reserved: 500 });
    // actual above the reservation is counted in full
    await store.settle(claim('late'), 250);
    expect(await store.budgetUsage('ws1:day', 'local')).toEqual({ used: 450, reserved: 500 });
    for (const n of admitted.slice(5, 8)) await store.release(claim(`r${n}`));
    expect(await store.budgetUsage('ws1:day', 'local')).toEqual({ used: 450, reserved: 200 });
    clock.advance(30_000); // the last two lapse
    expect(await store.budgetUsage('ws1:day', 'local')).toEqual({ used: 450, reserved: 0 });
    expect(store.admitSync([{ ...claim('big'), amount: 550 }]).admitted).toBe(true);
    expect(store.admitSync([{ ...claim('one'), amount: 1 }])).toMatchObject({ admitted: false, states: [{ remaining: 0 }] });
    await store.resetBudget('ws1:day', 'local');
    expect(await store.budgetUsage('ws1:day', 'local')).toEqual({ used: 0, reserved: 0 });
  });

  it('renewing keeps a reservation past its TTL; only reservations still held are renewed', () => {
    const clock = fakeClock(T0);
    store = new MemoryCounterStore({ clock: clock.now, sweepIntervalMs: 0 });
    const claim = (id: string) => budgetClaim('ws-renew', 300, 100, id, { policy: 'local', periodEndMs: T0 + 86_400_000, reservationTtlMs: 1000 });
    for (const id of ['long', 'short', 'done']) expect(store.admitSync([claim(id)]).admitted).toBe(true);
    store.releaseSync(claim('done'));
    clock.advance(600);
    expect(store.renewSync([claim('long'), claim('done'), claim('never')])).toBe(1);
    clock.advance(600); // 1200 ms: 'short' lapsed, 'long' holds until 1600
    expect(store.usageSync('ws-renew', 'local')).toEqual({ used: 0, reserved: 100 });
    expect(store.admitSync([claim('x')]).states[0]).toMatchObject({ reserved: 200, remaining: 100 });
    expect(store.renewSync([claim('short')])).toBe(0); // lapsed: not brought back
    clock.advance(500); // 1700 ms: 'long' lapsed too (renewed at 600 for 1000)
    expect(store.usageSync('ws-renew', 'local')).toEqual({ used: 0, reserved: 100 });
  });

  it('admitting the same reservation id again replaces it', () => {
    store = new MemoryCounterStore({ clock: fakeClock(T0).now });
    const c = budgetClaim('ws2', 100, 80, 'same', { policy: 'local' });
    expect(store.admitSync([c]).admitted).toBe(true);
    expect(store.admitSync([{ ...c, amount: 90 }]).states[0]).toMatchObject({ reserved: 90, remaining: 10 });
  });

  it('keeps local and redis-policy keys apart', () => {
    store = new MemoryCounterStore({ clock: fakeClock(T0).now });
    expect(store.admitSync([windowClaim('k', 1, { policy: 'local' })]).admitted).toBe(true);
    expect(store.admitSync([windowClaim('k', 1, { policy: 'redis' })]).admitted).toBe(true);
  });

  it('forgets expired windows and budgets (bounded memory)', () => {
    const clock = fakeClock(T0);
    store = new MemoryCounterStore({ clock: clock.now, sweepIntervalMs: 0 });
    for (let n = 0; n < 1000; n++) store.admitSync([windowClaim(`ip${n}`, 10, { policy: 'local', windowMs: 1000, type: 'sliding' })]);
    store.admitSync([budgetClaim('ws', 10, 1, 'r', { policy: 'local', periodEndMs: T0 + 5000, reservationTtlMs: 1000 })]);
    expect(store.size()).toBe(1001);
    clock.advance(2000);
    store.sweep();
    expect(store.size()).toBe(1);
    clock.advance(5000 + 3_600_000);
    store.sweep();
    expect(store.size()).toBe(0);
  });
});
