import { closeSync, constants, fstatSync, openSync, statSync, writeSync, type Stats } from 'node:fs';
import { mkdir, open, rename, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { sealRecord } from './hashChain.js';
import { spillToStderr } from './stderrSpill.js';
import { chainHead, lastLine, nextRotatedName, pruneRotated, utcDay } from './rotation.js';

export interface FileSinkOptions {
  /** Bytes after which the file is rotated (0 = never by size). */
  rotateSize: number;
  /** Rotate at the first write of a new UTC day. */
  rotateDaily: boolean;
  /** Rotated files kept. */
  keep: number;
  tamperEvident: boolean;
  /** Lines queued in memory before the log phase writes synchronously (backpressure). */
  bufferSize: number;
  logger: Logger;
  /** A batch write slower than this (ms) switches to thread-pool writes (default SLOW_WRITE_MS). */
  slowWriteMs?: number;
  /** How often (ms) a batch checks that the path still names the open file (default PATH_CHECK_MS). */
  pathCheckMs?: number;
  /** Where records go when the file cannot take them and the queue is full (default: stderr). */
  spill?: (lines: Buffer) => void;
}

/** While writes fail, the overflow path is tried at most this often (not on every record). */
const SYNC_RETRY_MS = 1000;
/** Records queued, in multiples of bufferSize, before a file that refuses writes spills them. */
const SPILL_FACTOR = 2;
/** A write failure this recent means the file refuses writes (spilling is for a disk that is failing). */
const FAILING_MS = 60_000;



interface Pending {
  buf: Buffer;
  pos: number;
  /** Records in `buf`, for `pendingRecords()`. */
  lines?: number;
}

/** Size of a batch buffer; larger batches grow their own (COALESCE_BYTES usually sends first). */
const BATCH_BYTES = 128 * 1024;

/**
 * The queued lines, encoded as they come into one buffer (no per-line string, no join, no copy
 * when the batch leaves). `take()` hands the bytes out and starts on another buffer; `recycle()`
 * gives a written batch's buffer back, so two buffers per file take turns.
 */
class LineBatch {
  private buf: Buffer = Buffer.allocUnsafe(BATCH_BYTES);
  private spare: Buffer | null = null;
  /** Bytes queued. */
  length = 0;
  /** Lines queued. */
  lines = 0;

  push(line: string): void {
    const room = line.length * 3 + 1; // UTF-8 needs at most 3 bytes per UTF-16 unit
    if (this.length + room > this.buf.length) this.grow(this.length + room);
    this.length += this.buf.write(line, this.length);
    this.buf[this.length++] = 0x0a;
    this.lines++;
  }

  /** Puts a newline before everything queued (a line cut by a crash ends the file). */
  prependNewline(): void {
    if (this.length + 1 > this.buf.length) this.grow(this.length + 1);
    this.buf.copyWithin(1, 0, this.length);
    this.buf[0] = 0x0a;
    this.length++;
    this.lines++;
  }

  /** The queued bytes, now owned by the caller until it recycles them; the batch starts empty. */
  take(): Buffer {
    const out = this.buf.subarray(0, this.length);
    this.buf = this.spare ?? Buffer.allocUnsafe(BATCH_BYTES);
    this.spare = null;
    this.length = 0;
    this.lines = 0;
    return out;
  }

  /** The queued bytes, still the batch's own (valid until the next push or clear). */
  peek(): Buffer {
    return this.buf.subarray(0, this.length);
  }

  /** Drops what is queued (it was written from `peek()`); a buffer grown by a burst is let go. */
  clear(): void {
    this.length = 0;
    this.lines = 0;
    if (this.buf.length > BATCH_BYTES) {
      this.buf = this.spare ?? Buffer.allocUnsafe(BATCH_BYTES);
      this.spare = null;
    }
  }

  /** A taken batch is written: its buffer may hold the next batch after the current one. */
  recycle(taken: Buffer): void {
    if (this.spare === null && taken.buffer.byteLength === BATCH_BYTES) {
      this.spare = Buffer.from(taken.buffer, taken.byteOffset, BATCH_BYTES);
    }
  }

  private grow(needed: number): void {
    const next = Buffer.allocUnsafe(Math.max(needed, this.buf.length * 2));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
}

const FLAGS = constants.O_WRONLY | constants.O_CREAT;
/** How long queued lines wait for company before they are written (one write for all). */
const COALESCE_MS = 10;
/** …unless this much is queued already. */
const COALESCE_BYTES = 64 * 1024;
/** A batch write slower than this means the disk is struggling: writes go to the thread pool. */
const SLOW_WRITE_MS = 20;
/** …for this long, then the sink tries writing on the main thread again. */
const ASYNC_AFTER_SLOW_MS = 60_000;
/**
 * At most this often (and before every rotation) a batch checks that the path still names the
 * open file: one stat, so a file deleted or moved away (logrotate without copytruncate) is
 * reopened within about a second instead of taking every record into an unlinked inode.
 */
const PATH_CHECK_MS = 1000;

/**
 * One audit file (JSON lines), shared by every handler configured with its path, across reloads
 * (sinks.ts), so its hash chain never forks and no line is lost or interleaved.
 *
 * `append()` runs in the log phase: it serializes (and chains) the record, queues the line and
 * returns. Queued lines are written in batches (every COALESCE_MS, or at COALESCE_BYTES) with
 * positional writes, each batch at the offset it was given when it left the queue.
 *
 * A batch is written on the main thread, as nginx writes its buffered access log: into the
 * page cache that takes ~10 µs for 40 KB, where a thread-pool write costs ~150 µs of CPU in
 * wake-ups and context switches (on a gateway pinned to one core, the pool competes with the
 * event loop). A batch that takes longer than SLOW_WRITE_MS (a struggling disk) switches the
 * sink to thread-pool writes, one batch in flight, for ASYNC_AFTER_SLOW_MS.
 *
 * When `bufferSize` lines are queued (the disk cannot keep up), `append()` writes synchronously
 * at once: the only case in which audit writing holds up the proxy beyond a batch write.
 * Positional writes make that safe: the batch in flight is rewritten (same bytes, same place)
 * before the queue, so the file order is the chain order whichever write lands first. One
 * process writes a path; several processes must use different paths.
 */
export class AuditFile {
  private handle: FileHandle | null = null;
  private offset = 0;
  private day = utcDay();
  private head: string | null = null;
  private queue = new LineBatch();
  private inflight: Pending | null = null;
  private busy = false;
  private scheduled: 'timer' | 'immediate' | null = null;
  private coalesceTimer: NodeJS.Timeout | null = null;
  private forceRotate = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private lastErrorLog = 0;
  /** When a write last failed (ms epoch; 0 = never). */
  private lastFailure = 0;
  private lastSpillLog = 0;
  /** Until then (ms epoch), batches go through the thread pool (a recent write was slow). */
  private asyncUntil = 0;
  private waiters: Array<() => void> = [];
  private closing: Promise<void> | null = null;
  /** The open in progress, and the pump's async step in progress (rotate, open, close, write). */
  private opening: Promise<void> | null = null;
  private stepping: Promise<void> | null = null;
  private truncatedLogged = false;
  private lastForeignLog = 0;
  private nextPathCheck = 0;
  /**
   * Lines queued under the previous tamper_evident setting when it switched: written at the
   * end of the current file, before the rotation the switch forces.
   */
  private carry: Buffer | null = null;
  users = 0;
  /** Failed write attempts since start (`kong_audit_write_errors_total`). */
  writeErrors = 0;
  /** Records written to stderr instead (spill) since start. */
  spilledRecords = 0;

  constructor(
    readonly path: string,
    private opts: FileSinkOptions,
  ) {}

  /**
   * Latest config wins; switching tamper_evident on a non-empty file starts a new file. The
   * lines queued so far were written under the old setting: they go to the old file first.
   */
  configure(opts: FileSinkOptions): void {
    if (opts.tamperEvident !== this.opts.tamperEvident && (this.offset > 0 || this.queue.lines > 0)) {
      if (this.queue.lines > 0) {
        const taken = this.queue.take();
        this.carry = this.carry === null ? taken : Buffer.concat([this.carry, taken]);
      }
      this.forceRotate = true;
      this.schedule();
    }
    this.opts = opts;
  }

  /**
   * Opens the file and finds the chain head; called before the first append (by every handler
   * that acquires the file, so also on a reload). Only one open runs at a time, and none while
   * the pump is rotating or closing the file: waits for that step, then uses its handle.
   */
  async open(): Promise<void> {
    while (this.handle === null) {
      if (this.opening !== null) await this.opening;
      else if (this.busy && this.stepping !== null) await this.stepping.catch(() => undefined);
      else {
        this.opening = this.openNow().finally(() => {
          this.opening = null;
        });
        await this.opening;
      }
    }
  }

  private async openNow(): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const tail = await lastLine(this.path);
    if (this.head === null) {
      const chain = await chainHead(this.path);
      this.head = chain.head;
      if (chain.unchained && this.opts.tamperEvident) this.forceRotate = true;
    }
    const handle = await open(this.path, FLAGS, 0o640);
    this.offset = (await handle.stat()).size;
    this.day = tail && tail.size > 0 ? utcDay(tail.mtimeMs) : utcDay();
    this.handle = handle;
    // A line cut by a crash stays (verify reports it); the next line starts on its own.
    if (tail && !tail.endsWithNewline && tail.size > 0) this.queue.prependNewline();
  }

  /**
   * Serializes (and chains) the record, queues it; returns the line written (no newline).
   * `plainLine`: the record as `JSON.stringify` writes it, when the caller has it already
   * (not used when tamper-evident: that line is canonical JSON with the chain fields).
   */
  append(record: object, plainLine?: string): string {
    let line: string;
    if (this.opts.tamperEvident) {
      const sealed = sealRecord(record, this.head ?? '0'.repeat(64));
      this.head = sealed.hash;
      line = sealed.line;
    } else {
      line = plainLine ?? JSON.stringify(record);
    }
    this.queue.push(line);
    if (this.queue.lines >= this.opts.bufferSize) this.overflow();
    else this.schedule();
    return line;
  }

  /** Resolves once every queued line is on disk (or after `timeoutMs`). */
  flush(timeoutMs: number): Promise<void> {
    if (this.idleNow()) return Promise.resolve();
    this.schedule(true);
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      timer.unref();
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Last resort at process exit: writes whatever is still queued, synchronously. */
  flushSync(): void {
    if (this.idleNow()) return;
    try {
      if (!this.handle) {
        const fd = openSync(this.path, FLAGS, 0o640);
        try {
          this.offset = fstatSync(fd).size;
          this.writeFdSync(fd);
        } finally {
          closeSync(fd);
        }
      } else {
        this.writeFdSync(this.handle.fd);
      }
    } catch (err) {
      this.writeErrors++;
      this.opts.logger.error({ err, path: this.path, lines: this.queue.lines }, 'audit file: could not write records at exit');
    }
  }

  /** Records accepted and not on disk yet (`kong_audit_pending_records`). */
  pendingRecords(): number {
    return this.queue.lines + (this.inflight?.lines ?? 0) + (this.carry === null ? 0 : newlines(this.carry));
  }

  private idleNow(): boolean {
    return this.queue.lines === 0 && this.inflight === null && this.carry === null && !this.busy;
  }

  /**
   * Lines queued within COALESCE_MS go out in one positional write (one thread-pool round trip
   * instead of one per request); a flush, a full buffer or a large backlog go at once.
   */
  private schedule(urgent = false): void {
    if (this.busy || this.retryTimer) return;
    if (this.scheduled !== null) {
      if (!urgent || this.scheduled === 'immediate') return;
      clearTimeout(this.coalesceTimer!);
      this.coalesceTimer = null;
    }
    const run = () => {
      this.scheduled = null;
      this.coalesceTimer = null;
      this.pump();
    };
    if (urgent || this.queue.length >= COALESCE_BYTES) {
      this.scheduled = 'immediate';
      setImmediate(run);
    } else {
      this.scheduled = 'timer';
      this.coalesceTimer = setTimeout(run, COALESCE_MS);
    }
  }

  private pump(): void {
    if (this.busy || this.retryTimer) return;
    if (this.inflight === null && this.queue.lines === 0 && this.carry === null) return this.idle();
    if (this.closing) return this.step(this.closing);
    if (!this.handle) return this.step(this.open());
    if (this.inflight === null && this.carry !== null) {
      this.followFileEnd(this.handle);
      this.inflight = { buf: this.carry, pos: this.offset, lines: newlines(this.carry) };
      this.offset += this.carry.length;
      this.carry = null;
    }
    if (this.inflight === null) {
      const rotating = this.rotationDue();
      if (this.pathMoved(this.handle, rotating)) return this.step(this.reopen());
      if (rotating) return this.step(this.rotate());
    }
    if (this.inflight === null) {
      this.followFileEnd(this.handle);
      const lines = this.queue.lines;
      const buf = this.queue.take();
      this.inflight = { buf, pos: this.offset, lines };
      this.offset += buf.length;
    }
    const pending = this.inflight!;
    if (Date.now() >= this.asyncUntil) return this.writeBatchSync(this.handle, pending);
    this.step(
      writeAll(this.handle, pending).then(() => {
        this.written(pending);
      }),
      this.afterWrite,
    );
  }

  /**
   * An external `logrotate copytruncate` (or `> audit.log`) shrank the file: the next lines
   * go at its new end, not at the old offset behind a hole of zero bytes. A file that grew
   * behind our back has another writer (a second process configured with this path): our
   * lines go after its lines instead of over them, and the log says so. One fstat per batch.
   */
  private followFileEnd(handle: FileHandle): void {
    let size: number;
    try {
      size = fstatSync(handle.fd).size;
    } catch {
      return;
    }
    if (size === this.offset) return;
    if (size > this.offset) {
      const now = Date.now();
      if (now - this.lastForeignLog > 10_000) {
        this.lastForeignLog = now;
        this.opts.logger.error({ path: this.path, expected: this.offset, found: size }, 'audit file: another process writes to it too; lines from both are kept, but their order and any hash chain are not. Give every process its own path (${HOSTNAME} in it)');
      }
      this.offset = size;
      return;
    }
    if (!this.truncatedLogged) {
      this.truncatedLogged = true;
      this.opts.logger.warn({ path: this.path, was: this.offset, now: size }, 'audit file was truncated by another process (logrotate copytruncate?); writing on at its end. Let tollgate rotate (rotate_size, rotate_daily)');
    }
    this.offset = size;
  }

  /**
   * Whether the path no longer names the open file: deleted, or renamed away (logrotate's
   * default `create` mode moves it and leaves a new empty file). Checked at most every
   * `pathCheckMs`, and always before a rotation (which renames whatever the path names).
   */
  private pathMoved(handle: FileHandle, force: boolean): boolean {
    const now = Date.now();
    if (!force && now < this.nextPathCheck) return false;
    this.nextPathCheck = now + (this.opts.pathCheckMs ?? PATH_CHECK_MS);
    let held: Stats;
    try {
      held = fstatSync(handle.fd);
    } catch {
      return false;
    }
    try {
      const named = statSync(this.path);
      return named.ino !== held.ino || named.dev !== held.dev;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ENOENT';
    }
  }

  /** The path names another file (or none): what is on disk stays there; lines go on at the path. */
  private async reopen(): Promise<void> {
    const h = this.handle!;
    this.handle = null;
    await h
      .sync()
      .finally(() => h.close())
      .catch(() => undefined);
    this.opts.logger.warn({ path: this.path }, 'audit file was moved or deleted by another process (logrotate without copytruncate?); writing on in a file at its path. Let tollgate rotate (rotate_size, rotate_daily)');
    await mkdir(dirname(this.path), { recursive: true });
    const handle = await open(this.path, FLAGS, 0o640);
    this.offset = (await handle.stat()).size;
    this.day = utcDay();
    this.truncatedLogged = false;
    this.handle = handle;
  }

  private writeBatchSync(handle: FileHandle, pending: Pending): void {
    const started = performance.now();
    try {
      writeAllSync(handle.fd, pending);
    } catch (err) {
      return this.failed(err); // the batch stays in flight: rewritten, same bytes, same place
    }
    this.written(pending);
    const ms = performance.now() - started;
    if (ms > (this.opts.slowWriteMs ?? SLOW_WRITE_MS)) {
      this.asyncUntil = Date.now() + ASYNC_AFTER_SLOW_MS;
      this.opts.logger.warn({ path: this.path, ms: Math.round(ms), bytes: pending.buf.length }, 'audit file write was slow; writing through the thread pool for a minute');
    }
    this.afterWrite();
  }

  /** A batch is on disk (unless it was rewritten and is still the one in flight). */
  private written(pending: Pending): void {
    if (this.inflight !== pending) return;
    this.inflight = null;
    this.queue.recycle(pending.buf);
  }

  /**
   * A batch is on disk. What queued meanwhile waits for company again (COALESCE_MS) rather than
   * going out at once: under load, back-to-back writes would each carry a handful of lines, and
   * every asynchronous write costs the main thread tens of µs (a thread-pool round trip).
   */
  private readonly afterWrite = (): void => {
    if (this.queue.lines === 0 || this.waiters.length > 0 || this.closing !== null) this.pump();
    else this.schedule();
  };

  /** Runs one async step with `busy` set; then `next` (the pump), or retries in 1 s on failure. */
  private step(p: Promise<void>, next: () => void = () => this.pump()): void {
    this.busy = true;
    this.stepping = p;
    p.then(
      () => {
        this.busy = false;
        next();
      },
      (err: unknown) => {
        this.busy = false;
        this.failed(err);
      },
    );
  }

  private failed(err: unknown): void {
    this.writeErrors++;
    const now = Date.now();
    this.lastFailure = now;
    if (now - this.lastErrorLog > 10_000) {
      this.lastErrorLog = now;
      this.opts.logger.error({ err, path: this.path, queued: this.pendingRecords() }, 'audit file write failed; records are kept and retried every second');
    }
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.pump();
    }, 1000);
    this.retryTimer.unref();
  }

  private idle(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
    // No handler uses the file any more (a late record reopened it): close it again.
    if (this.users === 0 && this.handle) void this.closeHandle();
  }

  private closeHandle(): Promise<void> {
    const h = this.handle;
    if (!h) return this.closing ?? Promise.resolve();
    this.handle = null;
    this.closing = h
      .sync()
      .finally(() => h.close())
      .catch((err: unknown) => this.opts.logger.warn({ err, path: this.path }, 'audit file close failed'))
      .finally(() => {
        this.closing = null;
      });
    return this.closing;
  }

  /** The last handler let go: flush (bounded by `timeoutMs`), fsync and close. */
  async close(timeoutMs: number): Promise<void> {
    await this.flush(timeoutMs);
    if (this.users === 0) await this.closeHandle();
  }

  private rotationDue(): boolean {
    if (this.offset === 0) {
      this.forceRotate = false;
      if (this.day !== utcDay()) this.day = utcDay();
      return false;
    }
    if (this.forceRotate) return true;
    if (this.opts.rotateSize > 0 && this.offset >= this.opts.rotateSize) return true;
    return this.opts.rotateDaily && this.day !== utcDay();
  }

  private async rotate(): Promise<void> {
    const h = this.handle!;
    this.handle = null;
    await h.sync();
    await h.close();
    await rename(this.path, await nextRotatedName(this.path, this.day));
    this.forceRotate = false;
    this.day = utcDay();
    this.handle = await open(this.path, FLAGS, 0o640);
    this.offset = 0;
    await pruneRotated(this.path, this.opts.keep);
  }

  /**
   * The queue is full: written synchronously (backpressure on the log phase). While the file
   * refuses writes (disk full, I/O errors), that is tried at most once a second, and once
   * SPILL_FACTOR × bufferSize records wait, they go to stderr in order (where the pod's log
   * collector keeps them), so a long disk outage cannot grow memory until the process is killed
   * and every queued record with it. A tamper-evident chain then shows the gap (`audit verify`).
   */
  private overflow(): void {
    const now = Date.now();
    if (now - this.lastFailure >= SYNC_RETRY_MS) this.writeQueuedSync();
    if (this.queue.lines >= this.opts.bufferSize * SPILL_FACTOR && this.lastFailure > 0 && now - this.lastFailure < FAILING_MS) this.spill(now);
  }

  private spill(now: number): void {
    const n = this.queue.lines;
    try {
      (this.opts.spill ?? spillToStderr)(this.queue.peek());
    } catch (err) {
      // stderr refuses too: the records stay queued (nothing written twice), tried again later.
      this.failedSync(err);
      return;
    }
    this.queue.clear();
    this.spilledRecords += n;
    if (now - this.lastSpillLog > 10_000) {
      this.lastSpillLog = now;
      this.opts.logger.error({ path: this.path, records: n, spilled_total: this.spilledRecords }, 'audit file cannot be written: queued records written to stderr instead (one JSON line each, before this line)');
    }
  }

  /** The bounded-buffer overflow path: everything queued, now, in order. */
  private writeQueuedSync(): void {
    if (!this.handle) return; // opening or rotating: the pump writes them in a moment
    try {
      this.writeFdSync(this.handle.fd);
    } catch (err) {
      this.failedSync(err);
    }
  }

  private writeFdSync(fd: number): void {
    if (this.inflight) writeAllSync(fd, this.inflight);
    if (this.carry !== null) {
      writeAllSync(fd, { buf: this.carry, pos: this.offset });
      this.offset += this.carry.length;
      this.carry = null;
    }
    if (this.queue.lines === 0) return;
    const pending = { buf: this.queue.peek(), pos: this.offset };
    writeAllSync(fd, pending); // throws: the lines stay queued, for the next write
    this.offset += pending.buf.length;
    this.queue.clear();
  }

  private failedSync(err: unknown): void {
    this.writeErrors++;
    const now = Date.now();
    this.lastFailure = now;
    if (now - this.lastErrorLog > 10_000) {
      this.lastErrorLog = now;
      this.opts.logger.error({ err, path: this.path, queued: this.queue.lines }, 'audit file write failed; records are kept and retried');
    }
  }
}

function newlines(buf: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf(0x0a); i !== -1; i = buf.indexOf(0x0a, i + 1)) n++;
  return n;
}

async function writeAll(handle: FileHandle, p: Pending): Promise<void> {
  let done = 0;
  while (done < p.buf.length) {
    const { bytesWritten } = await handle.write(p.buf, done, p.buf.length - done, p.pos + done);
    done += bytesWritten;
  }
}

function writeAllSync(fd: number, p: Pending): void {
  let done = 0;
  while (done < p.buf.length) done += writeSync(fd, p.buf, done, p.buf.length - done, p.pos + done);
}
