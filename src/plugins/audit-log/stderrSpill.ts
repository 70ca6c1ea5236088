import { writeSync } from 'node:fs';

const SLEEP = new Int32Array(new SharedArrayBuffer(4));
/** Longest a spill waits for a full stderr pipe, in 1 ms steps. */
const MAX_WAIT_MS = 10_000;

/**
 * Writes all of `buf` to stderr (fd 2) synchronously: the audit sinks' last resort when their
 * own destination refuses records. Once anything has touched `process.stderr`, Node makes a
 * piped fd 2 non-blocking, and a full pipe (a slow log collector) answers EAGAIN: that is waited
 * out 1 ms at a time (as pino's sonic-boom does), so no line is cut in half or written twice.
 * Throws only when the pipe stays full for MAX_WAIT_MS (or another error).
 */
export function spillToStderr(buf: Buffer): void {
  let done = 0;
  let waited = 0;
  while (done < buf.length) {
    try {
      done += writeSync(2, buf, done, buf.length - done);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || waited >= MAX_WAIT_MS) throw err;
      Atomics.wait(SLEEP, 0, 0, 1);
      waited++;
    }
  }
}
