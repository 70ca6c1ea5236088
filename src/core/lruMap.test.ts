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

  it('with a weight bound, evicts the oldest until the new entry fits, and refuses one heavier than the bound', () => {
    const m = new LruMap<string, number>(100, 10);
    m.set('a', 1, 4);
    m.set('b', 2, 4);
    m.set('c', 3, 4); // 12 > 10: 'a' goes
    expect([m.get('a'), m.get('b'), m.get('c'), m.weight]).toEqual([undefined, 2, 3, 8]);
    m.set('huge', 4, 11);
    expect([m.get('huge'), m.size, m.weight]).toEqual([undefined, 2, 8]);
    m.set('b', 5, 1); // replacing re-weighs
    expect(m.weight).toBe(5);
    m.delete('c');
    m.clear();
    expect([m.size, m.weight]).toEqual([0, 0]);
  });
});
