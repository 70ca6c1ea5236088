import { hash } from 'node:crypto';
import { createRequire } from 'node:module';
import { LruMap } from '../core/lruMap.js';
import type * as O200kEncoding from 'gpt-tokenizer/encoding/o200k_base';

/**
 * Token counting with OpenAI's `o200k_base` encoding (gpt-4o, gpt-4.1, gpt-5, o-series), the
 * vocabulary of current models; for other model families (Llama 3, Claude) it is a close
 * estimate, which is all the gateway needs before the upstream reports real usage.
 *
 * The encoder's rank table takes ~200 ms to load, so it is loaded on first use, not at import:
 * gateway startup stays fast. Call `preloadTokenizer()` once the listeners are up to pay that
 * cost before the first AI request instead of during it.
 */
type Encoding = typeof O200kEncoding;

const requireCjs = createRequire(import.meta.url);
let encoding: Encoding | null = null;

/** Special-token strings such as `<|endoftext|>` in user text are counted as plain text. */
const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

function loadEncoding(): Encoding {
  encoding ??= requireCjs('gpt-tokenizer/encoding/o200k_base') as Encoding;
  return encoding;
}

export const TOKENIZER_ENCODING = 'o200k_base';

export function preloadTokenizer(): void {
  loadEncoding();
}

export const CACHE_MAX_ENTRIES = 4096;
/**
 * Counts of long texts, by the SHA-256 of the text (the text itself is not kept). A chat client
 * resends the whole conversation on every turn: the system prompt and the earlier messages
 * are counted once, not on every request. Tokenizing runs at ~40 MB/s here, hashing at
 * ~700 MB/s, so a miss costs a few percent more and a hit ~95 % less.
 */
const countCache = new LruMap<string, number>(CACHE_MAX_ENTRIES);
/** Texts shorter than this are tokenized directly (cheaper than hashing and looking up). */
export const CACHE_MIN_CHARS = 256;

export function countTextTokens(text: string): number {
  if (text.length === 0) return 0;
  if (text.length < CACHE_MIN_CHARS) return loadEncoding().countTokens(text, PLAIN_TEXT);
  const key = hash('sha256', text, 'base64url');
  const known = countCache.get(key);
  if (known !== undefined) return known;
  const count = countInRuns(text);
  countCache.set(key, count);
  return count;
}

/** Longest run without whitespace handed to the encoder in one piece. */
export const MAX_RUN_CHARS = 256;
const LONG_RUN = new RegExp(`\\S{${MAX_RUN_CHARS + 1},}`);
const LONG_RUNS = new RegExp(LONG_RUN.source, 'g');

/**
 * BPE's cost grows with the square of a pre-token's length, and a run of letters without
 * spaces (CJK text, a base64 blob, `aaaa…`) is one pre-token: 32 K such characters took ~3 s
 * of the event loop. Such runs are counted in pieces of MAX_RUN_CHARS, which can only add
 * tokens at the cuts (merges across a cut are lost): a count at least the exact one, at a
 * cost linear in the text.
 */
function countInRuns(text: string): number {
  const enc = loadEncoding();
  if (!LONG_RUN.test(text)) return enc.countTokens(text, PLAIN_TEXT);
  let total = 0;
  let last = 0;
  for (const m of text.matchAll(LONG_RUNS)) {
    if (m.index > last) total += enc.countTokens(text.slice(last, m.index), PLAIN_TEXT);
    for (let i = 0; i < m[0].length; i += MAX_RUN_CHARS) total += enc.countTokens(m[0].slice(i, i + MAX_RUN_CHARS), PLAIN_TEXT);
    last = m.index + m[0].length;
  }
  if (last < text.length) total += enc.countTokens(text.slice(last), PLAIN_TEXT);
  return total;
}

/** Entries in the count cache (for tests). */
export function countCacheSize(): number {
  return countCache.size;
}

export function encodeText(text: string): number[] {
  return loadEncoding().encode(text, PLAIN_TEXT);
}

export function decodeTokens(tokens: readonly number[]): string {
  return loadEncoding().decode(tokens);
}

/**
 * Text kept for exact tokenization, in work units (below); beyond it the count is extrapolated
 * from the kept sample's tokens-per-character. Tokenizing runs at roughly 5 MB/s, so this
 * bounds the cost of one estimate to a few milliseconds however large the prompt or the
 * generated text is.
 */
export const EXACT_TOKENIZE_CHARS = 32 * 1024;

/**
 * What one multi-byte character inside a long run without whitespace costs, in work units (a
 * character elsewhere costs 1), per UTF-8 byte beyond its first. Such runs (CJK text) are where
 * BPE is slow: rare CJK characters took ~3 µs each against ~0.1 µs for spaced text (Latin,
 * Cyrillic, Devanagari), so 32 K of them held the event loop ~100 ms. Weighted, a dense CJK
 * sample keeps ~1 K characters exactly (a few ms) and the rest is extrapolated, and bounded by
 * its bytes for reservations.
 */
const DENSE_BYTE_WORK = 16;

/** How many leading characters of `text` fit in `room` work units (see workOf). */
function cutWithin(text: string, room: number): number {
  if (!LONG_RUN.test(text)) return Math.min(text.length, room);
  let work = 0;
  let pos = 0;
  for (const m of text.matchAll(LONG_RUNS)) {
    const plain = m.index - pos; // characters before the run cost one each
    if (work + plain >= room) return pos + (room - work);
    work += plain;
    pos = m.index;
    const runWork = m[0].length + DENSE_BYTE_WORK * (Buffer.byteLength(m[0], 'utf8') - m[0].length);
    if (work + runWork > room) return pos + Math.floor((m[0].length * (room - work)) / runWork);
    work += runWork;
    pos += m[0].length;
  }
  return Math.min(text.length, pos + (room - work));
}

/** The work units of tokenizing `text` exactly (see DENSE_BYTE_WORK), and its UTF-8 bytes. */
function workOf(text: string): { work: number; bytes: number } {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes === text.length || !LONG_RUN.test(text)) return { work: text.length, bytes };
  let extra = 0;
  for (const m of text.matchAll(LONG_RUNS)) extra += Buffer.byteLength(m[0], 'utf8') - m[0].length;
  return { work: text.length + DENSE_BYTE_WORK * extra, bytes };
}

/**
 * A bounded sample of text whose token count is wanted: keeps the first `maxChars` characters,
 * counts the rest, and extrapolates. `addPart` starts a new piece (a message: pieces are
 * tokenized separately), `append` extends the last piece (a streamed delta).
 */
export class TextSample {
  private readonly parts: string[] = [];
  private keptChars = 0;
  /** Work units kept (workOf), at most maxWork. */
  private keptWork = 0;
  private totalChars = 0;
  /** UTF-8 bytes of the text beyond the kept sample (a byte-level BPE makes no more tokens). */
  private restBytes = 0;
  private exact: number | null = null;
  /** Tokens known without tokenizing (prompts given as token-id arrays, per-message overhead). */
  private extraTokens = 0;

  constructor(private readonly maxWork = EXACT_TOKENIZE_CHARS) {}

  /** Characters kept for exact tokenization. */
  get sampledChars(): number {
    return this.keptChars;
  }

  get isEmpty(): boolean {
    return this.totalChars === 0 && this.extraTokens === 0;
  }

  addPart(text: string): void {
    this.keep(text, true);
  }

  append(text: string): void {
    this.keep(text, this.parts.length === 0);
  }

  addTokens(count: number): void {
    this.extraTokens += count;
  }

  /** The estimate: the sample counted, the rest extrapolated at the sample's tokens per character. */
  countTokens(): number {
    if (this.totalChars === 0) return this.extraTokens;
    const exact = this.exactTokens();
    if (this.keptChars >= this.totalChars) return exact + this.extraTokens;
    return Math.ceil((exact * this.totalChars) / this.keptChars) + this.extraTokens;
  }

  /**
   * A count the real one cannot exceed: the sample counted, the rest bounded by its UTF-8
   * bytes. What a budget reserves: an extrapolation can be fooled (cheap text first, dense
   * text after: 14 × under), a bound cannot; settlement charges the real usage after.
   */
  countTokensAtMost(): number {
    if (this.keptChars >= this.totalChars) return this.countTokens();
    return this.exactTokens() + this.restBytes + this.extraTokens;
  }

  private exactTokens(): number {
    if (this.exact === null) {
      let exact = 0;
      for (const part of this.parts) exact += countTextTokens(part);
      this.exact = exact;
    }
    return this.exact;
  }

  private keep(text: string, newPart: boolean): void {
    if (text.length === 0) return;
    this.exact = null;
    this.totalChars += text.length;
    const room = this.maxWork - this.keptWork;
    if (room <= 0) {
      this.restBytes += Buffer.byteLength(text, 'utf8');
      return;
    }
    const { work, bytes } = workOf(text);
    let piece = text;
    if (work > room) {
      // As much of the text as the room holds, by the work of what comes first (not the
      // text's average: dense CJK followed by a long spaced tail would overrun the bound).
      let cut = Math.max(1, cutWithin(text, room));
      const code = text.charCodeAt(cut - 1);
      if (code >= 0xd800 && code <= 0xdbff) cut--; // not between the halves of a surrogate pair
      piece = text.slice(0, cut);
      this.restBytes += bytes - Buffer.byteLength(piece, 'utf8');
      this.keptWork = this.maxWork;
    } else {
      this.keptWork += work;
    }
    if (piece.length === 0) return;
    this.keptChars += piece.length;
    if (newPart || this.parts.length === 0) this.parts.push(piece);
    else this.parts[this.parts.length - 1] += piece;
  }
}
