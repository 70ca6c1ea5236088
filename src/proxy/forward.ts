import type { OutgoingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import type { RequestContext } from '../core/context.js';
import type { Chain } from '../core/pipeline.js';
import { BadGatewayError, GatewayError, GatewayTimeoutError } from '../core/errors.js';
import { clientResponseHeaders } from './headers.js';
import { isTimeout } from './upstream.js';
import { discardBody } from './requestBody.js';
import { ResponseObserver } from '../ai/index.js';
import { UsageChunkFilter } from '../ai/usageChunkFilter.js';

/** What the forwarder needs from the request handler. */
export interface ForwardHost {
  /** Writes a gateway error response (when no upstream header was sent yet). */
  sendError(ctx: RequestContext, chain: Chain, err: GatewayError): void;
  /** Runs the response-headers phase into ctx.responseHeaders. */
  runResponseHeaders(ctx: RequestContext, chain: Chain): void;
  /** Called exactly once when the upstream exchange is over (ok or not). */
  upstreamDone(ctx: RequestContext): void;
  /** An MCP client's GET event stream started (closed first when the gateway drains). */
  eventStreamOpened?(ctx: RequestContext): void;
}

/**
 * undici dispatch handler that streams the upstream response to the client as it arrives,
 * with backpressure both ways (a slow client pauses the upstream read). SSE events reach the
 * client one by one: every chunk is written through as soon as undici hands it over.
 */
export class ResponseForwarder implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | null = null;
  private observer: ResponseObserver | null = null;
  /** The client's response head while it waits for the first body bytes (Content-Length answers). */
  private pendingHead: { status: number; headers: OutgoingHttpHeaders } | null = null;
  /** Drops the usage chunk tollgate asked for on behalf of a client that did not. */
  private usageFilter: UsageChunkFilter | null = null;
  private done = false;
  private paused = false;
  /** Set by the first body write, which carries the response head with it. */
  wroteBody = false;

  constructor(
    private readonly ctx: RequestContext,
    private readonly chain: Chain,
    private readonly host: ForwardHost,
  ) {}

  /** Aborts the upstream exchange (client went away). */
  abort(reason: Error): void {
    if (this.done) return;
    this.controller?.abort(reason);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.ctx.res.destroyed) controller.abort(new Error('client closed the connection'));
  }

  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[]>): void {
    if (statusCode < 200) return; // 1xx: the final response follows
    const ctx = this.ctx;
    const te = headers['transfer-encoding'];
    if (te !== undefined && te !== 'chunked' && !onlyChunked(te)) {
      // `gzip, chunked` and the like: undici takes off the chunking only, and the client would
      // get compressed bytes labelled as plain. Refused as nginx (and so Kong) refuses it.
      this.controller?.abort(Object.assign(new Error(`upstream sent Transfer-Encoding: ${String(te)}`), { code: 'UPSTREAM_BAD_TRANSFER_ENCODING' }));
      return;
    }
    ctx.upstreamHeadersNs = process.hrtime.bigint();
    ctx.status = statusCode;
    ctx.upstreamResponseHeaders = headers;
    if (this.chain.observesAi) {
      const tools = headers['x-tools-used'];
      this.observer = new ResponseObserver({
        contentType: firstHeader(headers['content-type']),
        contentEncoding: firstHeader(headers['content-encoding']) ?? null,
        status: statusCode,
        request: ctx.aiRequest,
        // Not inspected and no body (GET /v1/chat/completions lists stored completions): not a generation.
        path: ctx.aiRequest === null && ctx.body === null && ctx.bytesIn === 0 ? null : ctx.path,
        toolsHeader: tools ?? null,
      });
    }
    // MCP Streamable HTTP: a GET with a session is the server-to-client stream, open for good.
    const listening = ctx.method === 'GET' && ctx.req.headers['mcp-session-id'] !== undefined;
    if ((ctx.usageInjected || listening) && statusCode < 300 && (firstHeader(headers['content-type']) ?? '').includes('text/event-stream')) {
      if (ctx.usageInjected) this.usageFilter = new UsageChunkFilter();
      if (listening) this.host.eventStreamOpened?.(ctx);
    }
    this.host.runResponseHeaders(ctx, this.chain);
    const res = ctx.res;
    if (res.destroyed) return;
    if (headers['content-length'] !== undefined) {
      // The head goes out with the first body bytes, in one write; until then nothing is
      // committed, so an upstream that stalls or fails before its body still gets the client
      // the SPEC's 504/502 instead of a cut connection.
      const head = clientResponseHeaders(ctx, headers);
      // RFC 9110 §8.6: a 204 carries no Content-Length (a 304 may: the length it stands for).
      if (statusCode === 204) delete head['content-length'];
      this.pendingHead = { status: statusCode, headers: head };
      return;
    }
    res.writeHead(statusCode, clientResponseHeaders(ctx, headers));
    // A streamed answer (no Content-Length: SSE, chunked) whose first bytes are not in the same
    // read shows its status at the end of this event-loop turn all the same.
    setImmediate(flushHead, this);
  }

  /** Writes a head kept back for the first body bytes (see onResponseStart). */
  private writePendingHead(): void {
    const head = this.pendingHead;
    if (head === null) return;
    this.pendingHead = null;
    this.ctx.res.writeHead(head.status, head.headers);
  }

  onResponseData(controller: Dispatcher.DispatchController, upstream: Buffer): void {
    const ctx = this.ctx;
    this.observer?.write(upstream);
    const chunk = this.usageFilter === null ? upstream : this.usageFilter.push(upstream);
    ctx.bytesOut += chunk.length;
    const res = ctx.res;
    if (res.destroyed || res.writableEnded || chunk.length === 0) return;
    if (this.pendingHead !== null) this.writePendingHead();
    this.wroteBody = true;
    if (!res.write(chunk) && !this.paused) {
      this.paused = true;
      controller.pause();
      // undici's body timeout does not run while paused: a client that stops reading would
      // hold its connection and an upstream one for ever. No progress for the service's
      // read_timeout (nginx's send_timeout) cuts both.
      const timeoutMs = ctx.service?.config.read_timeout ?? 60_000;
      const stalled = setTimeout(() => {
        ctx.error = `client did not read the response for ${timeoutMs} ms`;
        res.destroy(); // first: the abort's error then finds the client gone, and keeps this reason
        controller.abort(new Error(ctx.error));
      }, timeoutMs);
      const closed = (): void => clearTimeout(stalled);
      res.once('close', closed);
      res.once('drain', () => {
        clearTimeout(stalled);
        res.off('close', closed);
        this.paused = false;
        controller.resume();
      });
    }
  }

  onResponseEnd(): void {
    this.finish();
    // The upstream answered before reading the whole request body (a 401 or 403 to an upload):
    // undici drops the body stream and the pipe leaves the request paused, with the rest of the
    // body unread; on a keep-alive connection the next request would never be parsed. Read the
    // rest and let it go, as the error path does.
    const req = this.ctx.req;
    if (!req.complete) {
      req.unpipe();
      discardBody(req);
    }
    const res = this.ctx.res;
    const rest = this.usageFilter?.end();
    if (rest !== undefined && rest.length > 0) this.ctx.bytesOut += rest.length;
    if (res.destroyed) return;
    this.writePendingHead();
    res.end(rest !== undefined && rest.length > 0 ? rest : undefined);
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    const ctx = this.ctx;
    const clientGone = ctx.res.destroyed || ctx.res.writableEnded;
    this.finish();
    if (clientGone) {
      ctx.error ??= 'client closed the connection';
      return;
    }
    // A 304 or 204 that declares the Content-Length of what it stands for (RFC 9110 §8.6 allows
    // it on a 304): undici counts it as a length mismatch; it is a complete answer.
    if (this.pendingHead !== null && (ctx.status === 304 || ctx.status === 204) && (err as { code?: string }).code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') {
      this.writePendingHead();
      ctx.res.end();
      return;
    }
    this.pendingHead = null;
    if (!ctx.res.headersSent) {
      // Our own body stream's errors (413, write timeout) come back through undici as they are.
      const e = err instanceof GatewayError ? err : mapUpstreamError(err);
      ctx.error = describeUpstreamError(err);
      this.host.sendError(ctx, this.chain, e);
      return;
    }
    // Mid-stream failure: the status is already out; cut the connection so the client sees it.
    ctx.error = `upstream failed mid-response: ${describeUpstreamError(err)}`;
    ctx.res.destroy();
  }

  /** Sends the response head on its own when no body bytes have carried it yet. */
  flushHead(): void {
    const res = this.ctx.res;
    if (!this.wroteBody && !res.destroyed && !res.writableEnded) res.flushHeaders();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.ctx.upstreamEndNs = process.hrtime.bigint();
    if (this.observer) this.ctx.ai = this.observer.finish();
    this.host.upstreamDone(this.ctx);
  }
}

function flushHead(f: ResponseForwarder): void {
  f.flushHead();
}

/** A Transfer-Encoding of `chunked` alone (any case, spacing or repetition of the header). */
function onlyChunked(te: string | string[]): boolean {
  const values = Array.isArray(te) ? te : [te];
  for (const value of values) {
    for (const coding of value.split(',')) if (coding.trim().toLowerCase() !== 'chunked') return false;
  }
  return true;
}

function firstHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export function mapUpstreamError(err: unknown): GatewayError {
  return isTimeout(err) ? new GatewayTimeoutError(err) : new BadGatewayError(err);
}

/** One-line, secret-free description for the audit `error` field. */
export function describeUpstreamError(err: unknown): string {
  const code = (err as { code?: string } | null)?.code;
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'upstream read timeout';
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return 'upstream connect timeout';
  if (code === 'ECONNREFUSED') return 'upstream connection refused';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'upstream connection reset';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'upstream host not found';
  if (code === 'TG_BODY_TOO_LARGE') return 'request body too large';
  if (code === 'TG_UPSTREAM_WRITE_TIMEOUT') return 'upstream write timeout';
  if (code === 'UPSTREAM_BAD_TRANSFER_ENCODING') return 'upstream sent a Transfer-Encoding other than chunked';
  return code ? `upstream error ${code}` : 'upstream error';
}
