import { describe, expect, it } from 'vitest';
import { CACHE_MAX_ENTRIES, CACHE_MIN_CHARS, EXACT_TOKENIZE_CHARS, TextSample, countCacheSize, countTextTokens, encodeText } from './tokenizer.js';

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

describe('long runs and long prompts', () => {
  it('counts a run without whitespace in pieces: at least the exact count', () => {
    const cjk = Array.from({ length: 3000 }, (_, i) => String.fromCharCode(0x4e00 + ((i * 7919) % 20000))).join('');
    for (const text of ['a'.repeat(5000), cjk, `prefix words ${cjk} suffix words`]) {
      expect(countTextTokens(text)).toBeGreaterThanOrEqual(encodeText(text).length);
    }
  });

  it('a prompt longer than the sample: the estimate extrapolates, the bound holds whatever follows the sample', () => {
    // Cheap text first, dense text after: the extrapolation is fooled, the bound is not.
    const dense = Array.from({ length: 2000 }, (_, i) => String.fromCharCode(0x4e00 + ((i * 7919) % 20000)) + (i % 20 === 19 ? ' ' : '')).join('');
    const sample = new TextSample();
    sample.addPart('a'.repeat(EXACT_TOKENIZE_CHARS) + dense);
    const exact = encodeText('a'.repeat(EXACT_TOKENIZE_CHARS)).length + encodeText(dense).length;
    expect(sample.countTokens()).toBeLessThan(exact);
    expect(sample.countTokensAtMost()).toBeGreaterThanOrEqual(exact);
    // Within the sample, both are the count.
    const short = new TextSample();
    short.addPart('hello world');
    expect(short.countTokensAtMost()).toBe(short.countTokens());
  });

  it('dense text (CJK without spaces, where BPE is slow) is sampled by its work, not its length: a few ms, and the bound still holds', () => {
    const rare = Array.from({ length: EXACT_TOKENIZE_CHARS }, (_, i) => String.fromCharCode(0x4e00 + ((i * 7919 + 12345) % 20000))).join('');
    const dense = new TextSample();
    dense.addPart(rare);
    expect(dense.sampledChars).toBeLessThanOrEqual(1024);
    const exact = encodeText(rare).length;
    expect(Math.abs(dense.countTokens() / exact - 1)).toBeLessThan(0.1);
    expect(dense.countTokensAtMost()).toBeGreaterThanOrEqual(exact);
    // a long spaced tail after the dense part does not stretch the sample past its work bound
    const mixed = new TextSample();
    mixed.addPart(rare + ' plain words'.repeat(100_000));
    expect(mixed.sampledChars).toBeLessThanOrEqual(1024);
    // Spaced scripts are cheap to tokenize, multi-byte or not: sampled whole.
    const cyrillic = Array.from({ length: 8000 }, (_, i) => 'привет мир как дела'.split(' ')[i % 4]).join(' ').slice(0, EXACT_TOKENIZE_CHARS);
    const spaced = new TextSample();
    spaced.addPart(cyrillic);
    expect(spaced.sampledChars).toBe(cyrillic.length);
    expect(spaced.countTokens()).toBe(countTextTokens(cyrillic));
    // A surrogate pair is never cut in half at the sample's end.
    const emoji = new TextSample(100);
    emoji.addPart(`${'😀'.repeat(300)}`);
    expect(emoji.sampledChars % 2).toBe(0);
  });
});

