import { describe, expect, it } from 'vitest';
import { CACHE_MAX_ENTRIES, CACHE_MIN_CHARS, countCacheSize, countTextTokens, encodeText } from './tokenizer.js';

describe('countTextTokens', () => {
  it('counts long texts once (the cache gives the tokenizer’s own count, also for a one-character change)', () => {
    const history = 'You are a careful assistant. Answer in French, cite sources, keep it short. '.repeat(12);
    expect(history.length).toBeGreaterThanOrEqual(CACHE_MIN_CHARS);
    const exact = encodeText(history).length;
    const before = countCacheSize();
    expect(countTextTokens(history)).toBe(exact);
    expect(countCacheSize()).toBe(before + 1);
    expect(countTextTokens(history)).toBe(exact); // from the cache
    expect(countCacheSize()).toBe(before + 1);
    const edited = `${history.slice(0, -1)}!`;
    expect(countTextTokens(edited)).toBe(encodeText(edited).length);
    expect(countTextTokens('Say ok.')).toBe(encodeText('Say ok.').length); // short: not cached
    expect(countCacheSize()).toBe(before + 2);
  });

  it('keeps at most CACHE_MAX_ENTRIES counts, evicting the least recently used', () => {
    const base = 'x'.repeat(CACHE_MIN_CHARS);
    for (let i = 0; i < CACHE_MAX_ENTRIES + 50; i++) countTextTokens(`${base} ${i}`);
    expect(countCacheSize()).toBe(CACHE_MAX_ENTRIES);
    const last = `${base} ${CACHE_MAX_ENTRIES + 49}`;
    expect(countTextTokens(last)).toBe(encodeText(last).length);
  });
});
