import type { IncomingMessage } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import { PayloadTooLargeError } from '../core/errors.js';

/** True when the request carries a body (RFC 9112 §6.3). */
export function hasBody(req: IncomingMessage): boolean {
  const te = req.headers['transfer-encoding'];
  if (te !== undefined) return true;
  const cl = req.headers['content-length'];
  return cl !== undefined && cl !== '0';
}

/** Declared Content-Length, or -1 when absent/invalid. */
export function declaredLength(req: IncomingMessage): number {
  const cl = req.headers['content-length'];
  if (cl === undefined) return -1;
  const n = Number(cl);
  return Number.isSafeInteger(n) && n >= 0 ? n : -1;
}

/** Bodies up to this size (declared) are read whole and sent upstream in one write. */
export const SMALL_BODY = 64 * 1024;

export function isSmallBody(req: IncomingMessage): boolean {
  const n = declaredLength(req);
  return n >= 0 && n <= SMALL_BODY;
}

/** Reads the whole body (for plugins that need it), refusing more than `limit` bytes with 413. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
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

/** Streams a chunked body through, failing with 413 once it passes `limit` bytes. */
export class BodyLimit extends Transform {
  private seen = 0;
  constructor(
    private readonly limit: number,
    private readonly onCount: (bytes: number) => void,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    this.onCount(this.seen);
    if (this.seen > this.limit) cb(new PayloadTooLargeError());
    else cb(null, chunk);
  }
}

export function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const ct = contentType.toLowerCase();
  return ct.startsWith('application/json') || /^application\/[a-z0-9.+-]*\+json/.test(ct);
}
