import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import type { ProxyHandler, RuntimeSource } from './handler.js';
import type { CounterStore } from '../counters/types.js';
import type { RequestContext } from '../core/context.js';
import { runAccessPhases, type Chain } from '../core/pipeline.js';
import { applyIdentity, clientResponseHeaders, switchingProtocolsHeaders } from './headers.js';
import { upstreamPath } from './router.js';
import { hasBody } from './requestBody.js';
import { GatewayError, NotImplementedError } from '../core/errors.js';
import { describeUpstreamError, mapUpstreamError } from './forward.js';

/**
 * WebSocket (and other Upgrade) requests: routed and authenticated like any request, then the
 * upstream's 101 is relayed and the two sockets are piped together. Errors before the upgrade
 * get the usual JSON error on the raw socket (through a ServerResponse bound to it), and an
 * upstream that refuses the upgrade has its answer relayed the same way; either way the
 * connection then closes (`Connection: close`).
 */
export class UpgradeProxy {
  constructor(
    private readonly proxy: ProxyHandler,
    private readonly counters: CounterStore,
    private readonly logger: Logger,
  ) {}

  readonly handle = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const res = answerOn(req, socket);
    if (!isWebSocket(req)) {
      this.withoutUpgrade(req, res);
      return;
    }
    // Until the 101 a client sends nothing more (RFC 6455 §4.1), so the end of its stream is a
    // client that left. Node leaves the socket half-open; closing it closes the response (the
    // record says 499 at once) and aborts the upstream handshake (onClose).
    const leave = () => socket.destroy();
    socket.once('end', leave);
    const { ctx, rt } = this.proxy.begin(req, res);
    this.process(ctx, socket, head, rt, leave).catch((err: unknown) => this.proxy.fail(ctx, ctx.route?.chain ?? rt.globalChain, err));
  };

  /**
   * `connect` listener: tollgate is a reverse proxy, not a forward one. Node would close the
   * socket without a word; the client gets the SPEC's JSON 405 and the request its record.
   */
  readonly connect = (req: IncomingMessage, socket: Duplex): void => {
    const res = answerOn(req, socket);
    const { ctx, rt } = this.proxy.begin(req, res);
    const err = new GatewayError('TG_METHOD_NOT_ALLOWED', 405, 'CONNECT is not supported: this is a reverse proxy, not a forward proxy', { headers: { allow: 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS' } });
    this.proxy.fail(ctx, rt.globalChain, err);
  };

  /**
   * Only WebSocket is tunnelled (SPEC §4; Kong passes Upgrade on only for websocket): a tunnel
   * for another protocol (h2c, any token) would carry requests past routing, authentication,
   * limits and the audit log. Such a request is served as a plain one instead — RFC 9110 §7.8
   * lets a server ignore Upgrade (curl --http2 on http:// then gets its HTTP/1.1 answer) — and
   * the connection closes after it (the socket has left Node's HTTP parser). One with a body is
   * refused: its bytes were never parsed.
   */
  private withoutUpgrade(req: IncomingMessage, res: ServerResponse): void {
    if (hasBody(req)) {
      const { ctx, rt } = this.proxy.begin(req, res);
      this.proxy.fail(ctx, rt.globalChain, new NotImplementedError('Upgrade is only supported to websocket; send this request without Upgrade'));
      return;
    }
    delete req.headers.upgrade;
    delete req.headers['http2-settings'];
    this.proxy.handle(req, res);
  }

  private async process(ctx: RequestContext, client: Duplex, head: Buffer, rt: ReturnType<RuntimeSource['current']>, leave: () => void): Promise<void> {
    const { route, path, stripLength } = this.proxy.resolveRoute(ctx, rt);
    ctx.upstreamHeaders = this.proxy.buildUpstreamHeaders(ctx, rt, route);
    await runAccessPhases(route.chain, ctx, this.counters);
    if (ctx.res.destroyed) return; // left while access ran
    applyIdentity(ctx);
    const handler = new UpgradeHandler(ctx, route.chain, client, head, this.proxy, this.logger, leave);
    this.proxy.upstreamStarted(ctx, handler);
    ctx.upstreamStartNs = process.hrtime.bigint();
    route.service.dispatcher.dispatch({ path: upstreamPath(route.service.basePath, path, stripLength, ctx.query), method: ctx.method, headers: ctx.upstreamHeaders, upgrade: 'websocket' }, handler);
  }
}

/**
 * A response written straight to a socket that has left Node's HTTP parser (an upgrade, a
 * CONNECT): after any answer but a 101 nothing more can be read from it, so it says so
 * (`Connection: close`) and closes.
 */
function answerOn(req: IncomingMessage, socket: Duplex): ServerResponse {
  const res = new ServerResponse(req);
  res.assignSocket(socket as never);
  res.shouldKeepAlive = false;
  res.once('finish', () => socket.end());
  return res;
}

/** `Upgrade: websocket` (any case, also within a list of protocols). */
function isWebSocket(req: IncomingMessage): boolean {
  const upgrade = req.headers.upgrade;
  return typeof upgrade === 'string' && upgrade.split(',').some((p) => p.trim().toLowerCase() === 'websocket');
}

/** How long the other end of a tunnel has to finish once one end sent its FIN. */
const HALF_CLOSE_GRACE_MS = 1000;

class UpgradeHandler implements Dispatcher.DispatchHandler {
  constructor(
    private readonly ctx: RequestContext,
    private readonly chain: Chain,
    private readonly client: Duplex,
    private readonly head: Buffer,
    private readonly proxy: ProxyHandler,
    private readonly logger: Logger,
    private readonly leave: () => void,
  ) {}

  private controller: Dispatcher.DispatchController | null = null;
  private aborted = false;

  /** The client left before the 101 (ProxyHandler.onClose): the handshake upstream stops. */
  abort(reason: Error): void {
    this.aborted = true;
    this.controller?.abort(reason);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.aborted) controller.abort(new Error('client closed the connection'));
  }

  onRequestUpgrade(_c: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[]>, upstream: Duplex): void {
    const ctx = this.ctx;
    if (this.aborted) {
      upstream.destroy();
      return;
    }
    // From here on the tunnel's two ends close each other; either closing is its normal end.
    this.proxy.upstreamDone(ctx);
    this.client.off('end', this.leave);
    ctx.status = statusCode;
    ctx.upstreamHeadersNs = process.hrtime.bigint();
    this.proxy.runResponseHeaders(ctx, this.chain);
    const lines = [`HTTP/1.1 ${statusCode} Switching Protocols`];
    for (const [k, v] of Object.entries({ ...switchingProtocolsHeaders(headers), ...ctx.responseHeaders, 'x-request-id': ctx.id })) {
      for (const value of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${value}`);
    }
    const client = this.client;
    client.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (this.head.length > 0) {
      upstream.write(this.head); // frames that came in the same packet as the upgrade request
      ctx.bytesIn += this.head.length;
    }
    upstream.pipe(client);
    client.pipe(upstream);
    const count = (n: 'bytesIn' | 'bytesOut') => (chunk: Buffer) => (ctx[n] += chunk.length);
    client.on('data', count('bytesIn'));
    upstream.on('data', count('bytesOut'));
    const end = () => {
      ctx.upstreamEndNs ??= process.hrtime.bigint();
      upstream.destroy();
      client.destroy();
    };
    upstream.on('close', end);
    client.on('close', end);
    // A FIN from either side (a half-close, which WebSocket has no use for: its own close
    // frames end a session) is passed on by the pipe; the other side then has a moment to
    // answer, and the tunnel ends, as nginx ends it, even when that side ignores the FIN.
    const halfClosed = () => setTimeout(end, HALF_CLOSE_GRACE_MS).unref();
    client.once('end', halfClosed);
    upstream.once('end', halfClosed);
    // Idle: nothing either way for the service's read_timeout (nginx's proxy_read_timeout applies
    // to WebSocket too). A socket's timeout counts reads and writes, and every byte of the tunnel
    // is read from or written to the client socket, so one timer covers both directions. A
    // WebSocket ping from either end (RFC 6455 §5.5.2) keeps a quiet tunnel open.
    const idleMs = ctx.service?.config.read_timeout ?? 60_000;
    if (idleMs > 0 && 'setTimeout' in client) {
      (client as Socket).setTimeout(idleMs, () => {
        ctx.error ??= `websocket idle for ${idleMs} ms (read_timeout)`;
        end();
      });
    }
    upstream.on('error', (err) => this.logger.debug({ err }, 'websocket upstream error'));
    client.on('error', (err) => this.logger.debug({ err }, 'websocket client error'));
  }

  /** The upstream refused the upgrade (any status but 101): its answer is relayed as is. */
  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[]>): void {
    if (statusCode < 200 || this.aborted) return;
    const ctx = this.ctx;
    ctx.status = statusCode;
    ctx.upstreamHeadersNs = process.hrtime.bigint();
    ctx.upstreamResponseHeaders = headers;
    this.proxy.runResponseHeaders(ctx, this.chain);
    if (!ctx.res.destroyed) ctx.res.writeHead(statusCode, clientResponseHeaders(ctx, headers));
  }

  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    this.ctx.bytesOut += chunk.length;
    if (!this.ctx.res.destroyed) this.ctx.res.write(chunk);
  }

  onResponseEnd(): void {
    this.proxy.upstreamDone(this.ctx);
    this.ctx.upstreamEndNs ??= process.hrtime.bigint();
    if (!this.ctx.res.destroyed) this.ctx.res.end();
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    this.proxy.upstreamDone(this.ctx);
    if (this.aborted) return; // the record already says why
    this.ctx.error = describeUpstreamError(err);
    this.proxy.sendError(this.ctx, this.chain, mapUpstreamError(err));
  }
}
