import type { IncomingMessage } from 'node:http';
import type { RequestContext } from '../core/context.js';
import { Transform, type TransformCallback } from 'node:stream';
import { PayloadTooLargeError, UpstreamWriteTimeoutError } from '../core/errors.js';

/** True when the request carries a body (RFC 9112 §6.3). */
export function hasBody(req: IncomingMessage): boolean {
  const te = req.headers['transfer-encoding'];
  if (te !== undefined) return true;
  const cl = req.headers['content-length'];
  return cl !== undefined && cl !== '0';
}

/**
 * Declared Content-Length, or -1 when absent/invalid. One beyond 2^53 - 1 (the parser takes up
 * to 2^64) is Number.MAX_SAFE_INTEGER: over any body limit (413), never rounded on its way
 * upstream.
 */
export function declaredLength(req: IncomingMessage): number {
  const cl = req.headers['content-length'];
  if (cl === undefined) return -1;
  const n = Number(cl);
  if (Number.isSafeInteger(n) && n >= 0) return n;
  return /^\d+$/.test(cl) ? Number.MAX_SAFE_INTEGER : -1;
}

/** Bodies up to this size (declared) are read whole and sent upstream in one write. */
export const SMALL_BODY = 64 * 1024;

export function isSmallBody(req: IncomingMessage): boolean {
  const n = declaredLength(req);
  return n >= 0 && n <= SMALL_BODY;
}

/** Connections reading the rest of a body whose request has been answered (discardBody). */
const discarding = new WeakSet<object>();

/**
 * Reads the rest of an answered request's body and lets it go (a keep-alive connection parses
 * its next request only after it). A client that hangs up meanwhile makes the parser report an
 * unfinished message; that request already has its answer and record (discardingBody).
 */
export function discardBody(req: IncomingMessage): void {
  const socket = req.socket;
  discarding.add(socket);
  req.once('end', () => discarding.delete(socket));
  req.resume();
}

/** True while `socket` reads the rest of an answered request's body. */
export function discardingBody(socket: object): boolean {
  return discarding.has(socket);
}

/**
 * Lets a client waiting on `Expect: 100-continue` send its body: called where the body is first
 * read or forwarded, so only after access has passed.
 */
export function allowBody(ctx: RequestContext): void {
  if (!ctx.awaitsContinue) return;
  ctx.awaitsContinue = false;
  if (!ctx.res.headersSent && !ctx.res.destroyed) ctx.res.writeContinue();
}

/**
 * Reads the whole body (for plugins that need it), refusing more than `limit` bytes with 413.
 * `idleMs`: fails with `timeout()` after that long without a chunk; with `whole`, after that
 * long in all (the gateway's own endpoints: a slowloris cannot keep refreshing it).
 */
export function readBody(req: IncomingMessage, limit: number, idleMs = 0, timeout: () => Error = () => new UpstreamWriteTimeoutError(), whole = false): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    // A body that stops arriving (a slowloris on the body: headers_timeout covers only the
    // header block) fails like a streamed one, after the service's write_timeout of silence.
    const timer =
      idleMs > 0
        ? setTimeout(() => {
            cleanup();
            reject(timeout());
          }, idleMs).unref()
        : null;
    const onData = (chunk: Buffer) => {
      if (!whole) timer?.refresh();
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.resume();
        reject(new PayloadTooLargeError());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onAborted = () => {
      cleanup();
      reject(Object.assign(new Error('client closed the connection while sending the body'), { code: 'TG_CLIENT_ABORTED' }));
    };
    const cleanup = () => {
      if (timer !== null) clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

/**
 * A streamed request body on its way upstream: counts bytes, fails with 413 past `limit`, and
 * with 504 when no chunk has moved for `writeTimeoutMs` (the service's `write_timeout`: the
 * upstream stopped reading, or the client stopped sending). Buffered bodies need no timer:
 * undici hands them to the socket in one write, and a stalled upstream then hits read_timeout.
 */
export class UpstreamBody extends Transform {
  private seen = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly limit: number,
    private readonly writeTimeoutMs: number,
    private readonly onCount: (bytes: number) => void,
  ) {
    super();
    this.arm();
  }

  private arm(): void {
    if (this.timer) this.timer.refresh();
    else this.timer = setTimeout(() => this.destroy(new UpstreamWriteTimeoutError()), this.writeTimeoutMs).unref();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    this.onCount(this.seen);
    if (this.seen > this.limit) return cb(new PayloadTooLargeError());
    this.arm();
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    this.disarm();
    cb();
  }

  override _destroy(err: Error | null, cb: (error: Error | null) => void): void {
    this.disarm();
    cb(err);
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

export function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const ct = contentType.toLowerCase();
  return ct.startsWith('application/json') || /^application\/[a-z0-9.+-]*\+json/.test(ct);
}
