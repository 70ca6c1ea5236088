/**
 * One Lua script from src/counters/lua/ (copied beside the compiled code by the build), run with
 * EVALSHA and, when the server does not know it yet (first use, Redis restarted), EVAL.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Command, type Redis } from 'ioredis';

export type RedisArg = string | number;

/** Helpers every budget script uses (one EVAL body per script: they cannot load each other). */
const PRELUDE = readFileSync(new URL('./lua/_budget.lua', import.meta.url), 'utf8');

export class LuaScript {
  readonly name: string;
  readonly source: string;
  readonly sha: string;

  /** Reads `lua/<name>.lua` next to this module (once, at startup), after the shared `_budget.lua`. */
  constructor(name: string) {
    this.name = name;
    this.source = PRELUDE + readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8');
    this.sha = createHash('sha1').update(this.source).digest('hex');
  }

  /**
   * Runs the script. `argv` is `[<slot for the sha>, numkeys, ...keys, ...args]`: the first
   * element is overwritten here, so callers build one array per call and nothing is copied.
   */
  async run(redis: Redis, argv: RedisArg[]): Promise<unknown> {
    argv[0] = this.sha;
    try {
      return await redis.sendCommand(new FrameCommand('evalsha', argv));
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      argv[0] = this.source;
      return redis.sendCommand(new FrameCommand('eval', argv));
    }
  }
}

const NO_ARGS: string[] = [];

/**
 * A command whose RESP frame is encoded once, straight into one buffer (`respFrame`), instead of
 * by ioredis: its Command copies the argument array (`flat()`), turns every number into a string
 * and concatenates one string per argument, which the socket then encodes again. An admission
 * batch has ~24 arguments per request. Sent with `sendCommand` (the scripts' calls are batched
 * per event-loop turn already, so ioredis's auto-pipelining has nothing to add); replies are read
 * by ioredis as before, as UTF-8 strings like `call()` reads them.
 */
class FrameCommand extends Command {
  readonly #frame: Buffer;

  constructor(name: string, argv: readonly RedisArg[]) {
    super(name, NO_ARGS, { replyEncoding: 'utf8' });
    this.#frame = respFrame(name, argv);
  }

  override toWritable(): Buffer {
    return this.#frame;
  }
}

/** Encoding space, reused by every frame (the frame itself is copied out of it). */
let scratch = Buffer.allocUnsafeSlow(64 * 1024);

/** Makes room for `need` bytes past `o` in the scratch buffer, keeping what is written. */
function reserve(o: number, need: number): void {
  if (o + need <= scratch.length) return;
  const bigger = Buffer.allocUnsafeSlow(Math.max(2 * scratch.length, o + need));
  scratch.copy(bigger, 0, 0, o);
  scratch = bigger;
}

type Utf8Writer = Buffer & { utf8Write(s: string, offset: number): number };

/**
 * `*<n>\r\n$<len>\r\n<name>\r\n` then `$<len>\r\n<arg>\r\n` per argument (RESP2: an array of
 * bulk strings), byte for byte what ioredis writes. A string is written as UTF-8 straight after
 * a header sized for its length in characters, the common (ASCII) case; when its byte length
 * differs and needs another digit, the bytes move over. Safe non-negative integers are written
 * digit by digit, without a string.
 */
export function respFrame(name: string, argv: readonly RedisArg[]): Buffer {
  const n = argv.length;
  reserve(0, 16 + name.length);
  let o = writeHead(0, 0x2a, n + 1);
  o = writeString(o, name);
  for (let i = 0; i < n; i++) {
    const a = argv[i]!;
    if (typeof a === 'number' && a >= 0 && Number.isSafeInteger(a)) {
      reserve(o, 40);
      const d = digits(a);
      o = writeHead(o, 0x24, d);
      o = writeDigits(o, a, d);
      scratch[o++] = 0x0d;
      scratch[o++] = 0x0a;
    } else {
      o = writeString(o, typeof a === 'string' ? a : numberArg(a));
    }
  }
  const frame = Buffer.allocUnsafe(o);
  scratch.copy(frame, 0, 0, o);
  return frame;
}

/** Writes `$<bytes>\r\n<s as UTF-8>\r\n` at `o`; returns the offset after it. */
function writeString(o: number, s: string): number {
  const guess = s.length;
  const headDigits = digits(guess);
  reserve(o, 1 + digits(3 * guess) + 2 + 3 * guess + 2);
  let at = o + 1 + headDigits + 2;
  const bytes = (scratch as Utf8Writer).utf8Write(s, at);
  if (bytes !== guess) {
    const shift = digits(bytes) - headDigits;
    if (shift !== 0) {
      scratch.copyWithin(at + shift, at, at + bytes);
      at += shift;
    }
  }
  writeHead(o, 0x24, bytes);
  at += bytes;
  scratch[at++] = 0x0d;
  scratch[at++] = 0x0a;
  return at;
}

/** A number as ioredis writes it: integers past 2^53 in full (no exponent), others as String(). */
function numberArg(n: number): string {
  return Number.isInteger(n) && !Number.isSafeInteger(n) ? BigInt(n).toString() : String(n);
}

function digits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/** Writes the `d` decimal digits of `n` at `o`; returns the offset after them. */
function writeDigits(o: number, n: number, d: number): number {
  for (let i = o + d - 1; i >= o; i--) {
    scratch[i] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
  return o + d;
}

/** Writes `<marker><n>\r\n` at `o`; returns the offset after it. */
function writeHead(o: number, marker: number, n: number): number {
  scratch[o++] = marker;
  o = writeDigits(o, n, digits(n));
  scratch[o++] = 0x0d;
  scratch[o++] = 0x0a;
  return o;
}
