import { describe, expect, it } from 'vitest';
import { TurnBatch } from './turnBatch.js';

describe('TurnBatch', () => {
  it('runs the calls of one turn together, in order, at most `max` per batch', async () => {
    const batches: number[][] = [];
    const b = new TurnBatch<number, number>(3, async (items) => {
      batches.push(items);
      return items.map((n) => n * 10);
    });
    const outs = await Promise.all([1, 2, 3, 4, 5].map((n) => b.add(n)));
    expect(outs).toEqual([10, 20, 30, 40, 50]);
    expect(batches).toEqual([[1, 2, 3], [4, 5]]);
  });

  it('rejects every call of a failed batch; drain() sends what is queued and waits for it', async () => {
    let fail = true;
    const b = new TurnBatch<number, number>(10, async (items) => {
      if (fail) throw new Error('down');
      return items;
    });
    const failed = await Promise.allSettled([b.add(1), b.add(2)]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    const pending = b.add(7);
    await b.drain();
    await expect(pending).resolves.toBe(7);
  });
});
