import { describe, expect, it } from 'vitest';
import { LruMap } from './lruMap.js';

describe('LruMap', () => {
  it('evicts the least recently used entry, a hit counting as a use', () => {
    const m = new LruMap<string, number>(3);
    m.set('a', 1);
    m.set('b', 2);
    m.set('c', 3);
    expect(m.get('a')).toBe(1); // b is now the oldest
    m.set('d', 4);
    expect([m.get('b'), m.get('a'), m.get('c'), m.get('d')]).toEqual([undefined, 1, 3, 4]);
    expect(m.size).toBe(3);
  });

  it('replacing a key neither grows it nor evicts another', () => {
    const m = new LruMap<string, number>(2);
    m.set('a', 1);
    m.set('b', 2);
    m.set('a', 10);
    expect([m.get('a'), m.get('b'), m.size]).toEqual([10, 2, 2]);
    m.delete('a');
    expect([m.get('a'), m.size]).toEqual([undefined, 1]);
    m.clear();
    expect(m.size).toBe(0);
  });
});
