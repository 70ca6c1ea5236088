import { describe, expect, it } from 'vitest';
import { decodeAdmissions, integersOf } from './redisCodec.js';
import { budgetClaim, windowClaim } from './test/claims.js';

describe('admit.lua / settle.lua replies (one string of integers)', () => {
  it('reads signed integers up to the millisecond clock', () => {
    expect(integersOf('1,-1,1733250000000,0,42', 5)).toEqual([1, -1, 1733250000000, 0, 42]);
    expect(integersOf('7', 1)).toEqual([7]);
  });

  it('refuses anything else instead of guessing', () => {
    for (const bad of ['', ',', '1,', ',1', '1,,2', '1.5', '1e3', '--1', '1-', ' 1', 'x', 12, ['1'], null]) expect([bad, integersOf(bad, 1)]).toEqual([bad, null]);
    expect(integersOf('1,2,3', 2)).toBeNull(); // more than the call asked for
    expect(integersOf('1,2', 3)).toBeNull();
  });

  it('decodes groups in order, with budget totals', () => {
    const groups = [
      { claims: [windowClaim('w', 10)], commit: true },
      { claims: [windowClaim('w', 10), budgetClaim('b', 100, 5, 'r')], commit: true },
    ];
    const [a, b] = decodeAdmissions('1,-1,1000,9,500,0,0,0,1,1001,0,499,0,0,80,3600,20,85', groups);
    expect(a).toEqual({ admitted: true, refusedIndex: -1, nowMs: 1000, degraded: false, states: [{ limit: 10, remaining: 9, resetMs: 500 }] });
    expect(b).toMatchObject({ admitted: false, refusedIndex: 1, nowMs: 1001, states: [{ remaining: 0 }, { remaining: 80, resetMs: 3600, used: 20, reserved: 85 }] });
    expect(() => decodeAdmissions('1,-1,1000', groups)).toThrow(/unexpected reply/);
  });
});
