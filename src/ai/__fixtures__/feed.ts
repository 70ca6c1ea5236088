import { ResponseObserver, type ResponseObserverOptions } from '../responseObserver.js';
import type { AiUsage } from '../types.js';

/** Feeds `body` to a fresh observer cut at the given offsets and returns its result. */
export function observeSplit(body: string | Buffer, options: ResponseObserverOptions, cuts: readonly number[]): AiUsage {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const observer = new ResponseObserver(options);
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    // A fresh copy per chunk, then scribbled over: the observer must not keep references.
    const piece = Buffer.from(bytes.subarray(start, cut));
    observer.write(piece);
    piece.fill(0x7a);
    start = cut;
  }
  return observer.finish();
}

/** Small deterministic PRNG (mulberry32) so random splits are reproducible. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The result of feeding `body` whole, then checks that every two-piece split, byte-by-byte
 * feeding and 50 random multi-piece splits give exactly the same result.
 */
export function observeEverySplit(body: string, options: ResponseObserverOptions): AiUsage {
  const bytes = Buffer.from(body, 'utf8');
  const whole = observeSplit(bytes, options, []);
  const expected = JSON.stringify(whole);
  const mismatch = (how: string, got: AiUsage): Error => new Error(`${how}: ${JSON.stringify(got)} != ${expected}`);
  for (let cut = 1; cut < bytes.length; cut++) {
    const got = observeSplit(bytes, options, [cut]);
    if (JSON.stringify(got) !== expected) throw mismatch(`split at ${cut}`, got);
  }
  const everyByte = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1);
  const byteByByte = observeSplit(bytes, options, everyByte);
  if (JSON.stringify(byteByByte) !== expected) throw mismatch('byte by byte', byteByByte);
  const random = seededRandom(bytes.length);
  for (let round = 0; round < 50; round++) {
    const cuts = everyByte.filter(() => random() < 0.05);
    const got = observeSplit(bytes, options, cuts);
    if (JSON.stringify(got) !== expected) throw mismatch(`random cuts ${cuts.join(',')}`, got);
  }
  return whole;
}
