import { randomUUID } from 'node:crypto';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { RequestContext, Slot } from '../core/context.js';
import {
  BadRequestError,
  GatewayError,
  NoRouteError,
  NotImplementedError,
  PayloadTooLargeError,
  UpgradeRequiredError,
  toGatewayError,
} from '../core/errors.js';
import { runAccessPhases, runIdentityPhases, runLimitPhases, runResponseEnd, runSyncPhase, type Chain, type PluginInstance } from '../core/pipeline.js';
import type { Runtime, CompiledRoute } from '../core/runtime.js';
import type { CounterStore } from '../counters/types.js';
import { HOST, applyIdentity, upstreamRequestHeaders } from './headers.js';
import { normalizePath } from './normalizePath.js';
import { aiApiOfPath } from '../ai/apiKind.js';
import { routingHost, upstreamPath } from './router.js';
import { UpstreamBody, allowBody, declaredLength, discardBody, hasBody, isJson, isSmallBody, readBody } from './requestBody.js';
import { ResponseForwarder, type ForwardHost } from './forward.js';
import { serveEndpoint } from './endpoints.js';
import { fromMcpClient, withResourceMetadata } from './resourceMetadata.js';
import { inspectRequest, prepareUpstreamBody } from '../ai/index.js';
import type { ParserRefusal } from '../server/clientError.js';

const REQUEST_ID = /^[A-Za-z0-9._:@+=\-/]{1,200}$/;

/** Largest unread request body drained after an error answer to keep the connection (else it closes). */
const DRAIN_MAX_BYTES = 1024 * 1024;

/** A matched route, the normalised path, and how much of it strip_path removes. */
export interface RouteTarget {
  route: CompiledRoute;
  path: string;
  stripLength: number;
}

/** The live config, swapped atomically on reload. */
export interface RuntimeSource {
  current(): Runtime;
}

export interface ProxyDeps {
  runtimes: RuntimeSource;
  counters: CounterStore;
  logger: Logger;
  /** Called when a request begins, HTTP or upgrade alike (for drain accounting and /status). */
  onRequestStart?(socket: object): void;
  /** Called when a request's log phase has run (for drain accounting). */
  onRequestEnd?(ctx: RequestContext): void;
  /** True once shutdown is cutting the connections left after drain_timeout (audit `error`). */
  closedByGateway?(): boolean;
}

/** An upstream exchange in progress: a response being forwarded, a WebSocket handshake. */
export interface UpstreamExchange {
  abort(reason: Error): void;
}

/** The request's upstream exchange, while it runs (aborted when the client leaves first). */
const UPSTREAM = new Slot<UpstreamExchange>('upstream');

const CUT_AT_SHUTDOWN = 'cut at shutdown: drain_timeout passed';
const LISTENER_CLOSED = 'closed at shutdown: an MCP event stream (the client reconnects)';

function endEventStream(ctx: RequestContext): void {
  ctx.error ??= LISTENER_CLOSED;
  if (!ctx.res.destroyed && !ctx.res.writableEnded) ctx.res.end();
}

/** A response's request context (parserFailed finds a connection's current request by it). */
const CONTEXT = Symbol('tollgate.context');

/**
 * The request path (docs/architecture.md): context → route → access phases (auth, authz,
 * limits) → proxy (streamed) → response headers → response end → log. Every request, routed
 * or not, runs the log phase exactly once, when the client response is closed.
 */
export class ProxyHandler implements ForwardHost {
  /** MCP GET event streams open now (eventStreamOpened): closed first at shutdown. */
  private readonly listening = new Set<RequestContext>();
  /** Set once closeEventStreams ran: a stream opened during the drain is ended as it starts. */
  private closingStreams = false;

  constructor(private readonly deps: ProxyDeps) {}

  /** ForwardHost: an MCP client's GET event stream started (see closeEventStreams). */
  eventStreamOpened(ctx: RequestContext): void {
    if (!this.closingStreams) {
      this.listening.add(ctx);
      return;
    }
    // Opened on a kept-alive connection during the drain: its head is about to be written;
    // the stream ends right after, and the client reconnects elsewhere.
    setImmediate(() => endEventStream(ctx));
  }

  /**
   * At the start of a drain: ends the MCP GET event streams (Streamable HTTP's server-to-client
   * channel). They never end on their own, so each would hold the drain to `drain_timeout`,
   * and MCP clients reconnect (resuming with Last-Event-ID), to a replica that is not leaving.
   * The response ends cleanly; the upstream exchange is aborted when it closes (onClose).
   */
  closeEventStreams(): void {
    this.closingStreams = true;
    for (const ctx of this.listening) endEventStream(ctx);
    this.listening.clear();
  }

  /**
   * `request` listener for the HTTP and HTTPS proxy servers, and their `checkContinue` one with
   * `awaitsContinue` (Node then leaves `100 Continue` to us: allowBody).
   */
  readonly handle = (req: IncomingMessage, res: ServerResponse, awaitsContinue = false): void => {
    const { ctx, rt } = this.begin(req, res);
    if (awaitsContinue) ctx.awaitsContinue = true;
    try {
      const pending = this.process(ctx, rt);
      if (pending !== undefined) pending.catch((err: unknown) => this.fail(ctx, ctx.route?.chain ?? rt.globalChain, err));
    } catch (err) {
      this.fail(ctx, ctx.route?.chain ?? rt.globalChain, err);
    }
  };

  /**
   * `checkExpectation` listener: an `Expect` other than `100-continue` (RFC 9110 §10.1.1), which
   * Node would answer with a bare 417. Answered as a gateway error (JSON, X-Request-ID, audited).
   */
  readonly refuseExpectation = (req: IncomingMessage, res: ServerResponse): void => {
    const { ctx, rt } = this.begin(req, res);
    const expect = String(req.headers.expect ?? '').slice(0, 64);
    this.fail(ctx, rt.globalChain, new GatewayError('TG_EXPECTATION_FAILED', 417, `Expectation Failed: Expect: ${expect} is not supported; send Expect: 100-continue or none`));
  };

  /** Starts a request: pins the live runtime, builds the context, arms the log phase. */
  begin(req: IncomingMessage, res: ServerResponse): { ctx: RequestContext; rt: Runtime } {
    this.deps.onRequestStart?.(req.socket);
    const rt = this.deps.runtimes.current();
    rt.enter();
    const ctx = this.createContext(req, res, rt);
    (res as ServerResponse & { [CONTEXT]?: RequestContext })[CONTEXT] = ctx;
    res.once('close', () => this.onClose(ctx, rt));
    return { ctx, rt };
  }

  /**
   * The HTTP parser failed while a request of this connection is in flight (`clientError` with
   * a response under way). Its own body broken (a bad chunk size, bare LF): that request gets
   * the 400 if its answer has not started (else the connection is cut) and its record says it
   * was malformed, not that the client left. Garbage pipelined behind a complete request: that
   * request's answer still goes out, then the connection closes. False when no request of ours
   * is in flight on the socket.
   */
  parserFailed(err: NodeJS.ErrnoException, socket: Socket): boolean {
    const res = (socket as Socket & { _httpMessage?: unknown })._httpMessage;
    const ctx = res instanceof ServerResponse ? (res as ServerResponse & { [CONTEXT]?: RequestContext })[CONTEXT] : undefined;
    if (ctx === undefined || res === undefined) return false;
    if (err.code === 'ECONNRESET' || err.code === 'HPE_INVALID_EOF_STATE') {
      // Not a malformed request: the client reset or closed its side mid-body (an aborted
      // upload). It left before any answer: 499, and the upstream exchange is aborted.
      ctx.error ??= 'client closed the connection';
      socket.destroy();
      return true;
    }
    const why = `malformed request (${err.code ?? 'parse error'})`;
    if (ctx.req.complete) {
      ctx.res.shouldKeepAlive = false; // the bytes after it cannot be parsed: nothing follows
      return true;
    }
    ctx.error ??= why;
    if (ctx.res.headersSent || ctx.res.destroyed) socket.destroy();
    else this.sendError(ctx, ctx.route?.chain ?? this.deps.runtimes.current().globalChain, new BadRequestError('Bad request', undefined, 'TG_BAD_REQUEST'));
    return true;
  }

  createContext(req: IncomingMessage, res: ServerResponse, rt: Runtime): RequestContext {
    const socket = req.socket as IncomingMessage['socket'] & { encrypted?: boolean };
    const raw = req.url ?? '/';
    // A fragment is never part of the request target (RFC 9110 §7.1); dropped, as nginx does.
    const hash = raw.indexOf('#');
    let url = hash === -1 ? raw : raw.slice(0, hash);
    if (url.charCodeAt(0) !== 0x2f) url = originForm(req, url);
    const q = url.indexOf('?');
    const incomingId = req.headers['x-request-id'];
    const id = typeof incomingId === 'string' && REQUEST_ID.test(incomingId) ? incomingId : randomUUID();
    return new RequestContext({
      id,
      req,
      res,
      method: req.method ?? 'GET',
      path: q === -1 ? url : url.slice(0, q),
      query: q === -1 ? '' : url.slice(q),
      clientIp: rt.clientIp.resolve(socket.remoteAddress ?? '', req.headers['x-forwarded-for']),
      tls: socket.encrypted === true,
    });
  }

  /**
   * A request the HTTP parser refused (431, 400; answered by sendClientError) runs the global
   * log phase like any refused request (SPEC §8: every request refused by the gateway gets an
   * audit record; it is counted in the metrics too). No headers were parsed, so the record has
   * no user agent and no identity; method and path are what the request line said, null when
   * the refused bytes held none; the client IP is the connection's (X-Forwarded-For unread).
   */
  logRefusal(refusal: ParserRefusal, socket: Socket): void {
    this.deps.onRequestStart?.(socket);
    const rt = this.deps.runtimes.current();
    rt.enter();
    const req = new IncomingMessage(socket);
    const ctx = new RequestContext({
      id: refusal.id,
      req,
      res: new ServerResponse(req),
      method: refusal.method,
      path: refusal.path,
      query: '',
      clientIp: rt.clientIp.resolve(socket.remoteAddress ?? '', undefined),
      tls: (socket as Socket & { encrypted?: boolean }).encrypted === true,
    });
    ctx.status = refusal.status;
    ctx.error = refusal.error;
    ctx.bytesOut = refusal.bytesOut;
    ctx.endNs = ctx.startNs;
    if (rt.globalChain.log.length > 0) runSyncPhase(rt.globalChain.log, 'log', ctx, this.pluginError);
    rt.leave();
    this.deps.onRequestEnd?.(ctx);
  }

  /**
   * The normalised path (what routing and the upstream see), or 400; the request target's other
   * half, Host, is checked here too (400 when missing on HTTP/1.1, repeated or malformed).
   */
  normalizedPath(ctx: RequestContext): string {
    checkHost(ctx.req);
    const path = ctx.path.startsWith('/') ? normalizePath(ctx.path) : null;
    if (path === null) throw new BadRequestError('Bad request path', undefined, 'TG_BAD_PATH');
    ctx.routedPath = path;
    return path;
  }

  /** Matches the route and checks what can be checked before any plugin runs. */
  resolveRoute(ctx: RequestContext, rt: Runtime, path = this.normalizedPath(ctx)): RouteTarget {
    const { host, port } = routingHost(ctx.req.headers.host ?? '');
    const match = rt.router.match(ctx.method, path, host, ctx.req.headers, port);
    if (match === null) throw new NoRouteError();
    const route = match.route;
    if (hasOtherReadings(path) && otherReadingsRoute(path, (p) => rt.router.match(ctx.method, p, host, ctx.req.headers, port)?.route, route)) {
      throw new BadRequestError('Bad request path', undefined, 'TG_BAD_PATH');
    }
    ctx.route = route;
    ctx.service = route.service;
    if (ctx.tls ? !route.https : !route.http && !(route.https && forwardedHttps(ctx, rt))) throw new UpgradeRequiredError();
    const stripLength = route.config.strip_path ? match.matchedLength : 0;
    // A prefix can end inside a segment (`/pub` matches `/pub../private`): what is left after
    // stripping must not start with a dot segment, or the upstream would resolve it out of
    // the route's part of the service (`/base/public/../private`).
    if (stripLength > 0 && path.charCodeAt(stripLength) === 0x2e && startsWithDotSegment(path, stripLength)) {
      throw new BadRequestError('Bad request path', undefined, 'TG_BAD_PATH');
    }
    return { route, path, stripLength };
  }

  /**
   * Routes and forwards. Synchronous for a route whose plugins need neither the body nor an
   * access phase (no promise, no microtask); otherwise returns the promise of the async path.
   */
  private process(ctx: RequestContext, rt: Runtime): Promise<void> | undefined {
    const path = this.normalizedPath(ctx);
    const endpoint = rt.endpoints.size === 0 ? undefined : rt.endpoints.get(path);
    if (endpoint !== undefined) return serveEndpoint(ctx, rt, endpoint, this.deps.counters, () => this.runResponseHeaders(ctx, rt.globalChain));
    const target = this.resolveRoute(ctx, rt, path);
    const limit = rt.config.gateway.max_body_size;
    if (declaredLength(ctx.req) > limit) throw new PayloadTooLargeError();
    const te = ctx.req.headers['transfer-encoding'];
    if (te !== undefined && te !== 'chunked' && te.trim().toLowerCase() !== 'chunked') {
      throw new NotImplementedError('Transfer-Encoding other than chunked is not supported; send chunked or a Content-Length');
    }
    const chain = target.route.chain;
    ctx.upstreamHeaders = this.buildUpstreamHeaders(ctx, rt, target.route);
    const withBody = hasBody(ctx.req);
    // On an AI path the body is read whatever its Content-Type says: AI APIs are JSON, and a
    // chat completion sent without (or with a wrong) Content-Type must reserve its tokens too.
    const readsBody = withBody && chain.needsBody && (isJson(ctx.req.headers['content-type']) || (chain.observesAi && aiApiOfPath(path) !== null));
    const small = withBody && !readsBody && isSmallBody(ctx.req);
    if (readsBody || small || chain.hasAccess) return this.processAsync(ctx, target, withBody, readsBody, small, limit);
    this.forward(ctx, target.route, upstreamPath(target.route.service.basePath, target.path, target.stripLength, ctx.query), withBody, limit);
    return undefined;
  }

  private async processAsync(ctx: RequestContext, target: RouteTarget, withBody: boolean, readsBody: boolean, small: boolean, limit: number): Promise<void> {
    const { route, path, stripLength } = target;
    const chain = route.chain;
    const counters = this.deps.counters;
    // Access runs before a byte of the body is read: an unauthenticated caller cannot make the
    // gateway buffer max_body_size, and one waiting on `Expect: 100-continue` gets its 401
    // rather than a 100. Limits that need the body (the budget's estimate) run after the read.
    const limitsAfterBody = readsBody && chain.limitsNeedBody;
    if (chain.hasAccess) {
      const pending = limitsAfterBody ? runIdentityPhases(chain, ctx) : runAccessPhases(chain, ctx, counters);
      if (pending !== undefined) await pending;
    }
    if (small || readsBody) {
      // A small body has usually arrived with the headers: sending it as one buffer lets undici
      // write the request in one syscall instead of streaming it chunk by chunk.
      allowBody(ctx);
      const body = await readBody(ctx.req, limit, route.service.config.write_timeout);
      ctx.body = body;
      ctx.bytesIn = body.length;
      if (readsBody) parseJsonBody(ctx, body, chain.observesAi ? path : null, limit);
    }
    if (limitsAfterBody) {
      const pending = runLimitPhases(chain, ctx, counters);
      if (pending !== undefined) await pending;
    }
    applyIdentity(ctx);
    if (chain.observesAi) {
      ctx.upstreamHeaders['accept-encoding'] = 'identity';
      if (ctx.json !== undefined && ctx.body !== null) {
        const changed = prepareUpstreamBody(path, ctx.json, ctx.body);
        if (changed !== null) {
          ctx.body = changed;
          ctx.usageInjected = true;
        }
      }
    }
    this.forward(ctx, route, upstreamPath(route.service.basePath, path, stripLength, ctx.query), withBody, limit);
  }

  buildUpstreamHeaders(ctx: RequestContext, rt: Runtime, route: CompiledRoute): Record<string, string | string[]> {
    const req = ctx.req;
    const peer = peerAddress(req);
    const hostHeader = req.headers.host ?? '';
    const headers = upstreamRequestHeaders(req.headers, {
      clientIp: ctx.clientIp,
      peerIp: peer,
      peerTrusted: rt.clientIp.isTrusted(peer),
      proto: ctx.tls ? 'https' : 'http',
      port: req.socket.localPort ?? 0,
      host: hostHeader.replace(/:\d*$/, ''),
      requestId: ctx.id,
    });
    headers.host = route.config.preserve_host && hostHeader ? hostHeader : route.service.hostHeader;
    return headers;
  }

  private forward(ctx: RequestContext, route: CompiledRoute, path: string, withBody: boolean, bodyLimit: number): void {
    if (ctx.res.destroyed) return;
    const forwarder = new ResponseForwarder(ctx, route.chain, this);
    this.upstreamStarted(ctx, forwarder);
    let body: Buffer | UpstreamBody | null = null;
    const headers = ctx.upstreamHeaders;
    if (ctx.body !== null) {
      body = ctx.body;
      headers['content-length'] = String(ctx.body.length);
      delete headers['transfer-encoding'];
    } else if (withBody) {
      // Streamed through UpstreamBody (size limit, write_timeout, byte count). No 'data'
      // listener on the request itself: that would switch it to flowing mode before undici
      // reads, and chunks could be lost.
      const req = ctx.req;
      const declared = declaredLength(req);
      if (declared >= 0) ctx.bytesIn = declared;
      allowBody(ctx);
      body = req.pipe(new UpstreamBody(bodyLimit, route.service.config.write_timeout, (n) => (ctx.bytesIn = n)));
    }
    ctx.upstreamStartNs = process.hrtime.bigint();
    route.service.dispatcher.dispatch({ path, method: ctx.method, headers, body }, forwarder);
  }

  /** ForwardHost: response-headers phase. */
  runResponseHeaders(ctx: RequestContext, chain: Chain): void {
    if (chain.responseHeaders.length > 0) runSyncPhase(chain.responseHeaders, 'responseHeaders', ctx, this.pluginError);
  }

  /** An exchange to abort if the client leaves (or is cut at shutdown) before it is done. */
  upstreamStarted(ctx: RequestContext, exchange: UpstreamExchange): void {
    ctx.set(UPSTREAM, exchange);
  }

  upstreamDone(ctx: RequestContext): void {
    ctx.set(UPSTREAM, undefined);
  }

  /** ForwardHost: writes the SPEC §4 JSON error (or cuts the connection if headers are out). */
  sendError(ctx: RequestContext, chain: Chain, err: GatewayError): void {
    const res = ctx.res;
    ctx.status = err.status;
    if (err.status >= 500 && !err.expose && !err.reported) this.deps.logger.error({ err: err.cause ?? err, request_id: ctx.id }, 'request failed');
    ctx.error ??= err.message;
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    this.runResponseHeaders(ctx, chain);
    const message = err.expose ? err.message : (err.publicMessage ?? 'An unexpected error occurred');
    const body = JSON.stringify({ message, request_id: ctx.id });
    const headers: Record<string, string | number> = { ...ctx.responseHeaders, ...err.headers };
    // RFC 9728 §5.1: a protected route's 401 to an MCP client points to its resource metadata.
    const challenge = headers['www-authenticate'];
    if (err.status === 401 && typeof challenge === 'string' && ctx.route?.resource && fromMcpClient(ctx.req.headers)) {
      headers['www-authenticate'] = withResourceMetadata(challenge, ctx.route.resource, ctx);
    }
    headers['content-type'] = 'application/json; charset=utf-8';
    headers['content-length'] = Buffer.byteLength(body);
    headers['x-request-id'] = ctx.id;
    // An unread request body would otherwise stall keep-alive. A small one is drained; a large
    // or open-ended one (a 413, a chunked upload, 10 GB declared) is not read for nothing: the
    // connection closes after the answer, as nginx does.
    const unread = !ctx.req.complete;
    const declared = unread ? declaredLength(ctx.req) : 0;
    // A client still waiting for `100 Continue` may never send the body it announced.
    const closeAfter = unread && (ctx.awaitsContinue || err.status === 413 || declared < 0 || declared > DRAIN_MAX_BYTES);
    if (closeAfter) headers.connection = 'close';
    ctx.bytesOut += Buffer.byteLength(body);
    res.writeHead(err.status, headers);
    res.end(ctx.method === 'HEAD' ? undefined : body);
    if (unread) discardBody(ctx.req);
  }

  fail(ctx: RequestContext, chain: Chain, err: unknown): void {
    const code = (err as { code?: string } | null)?.code;
    if (code === 'TG_CLIENT_ABORTED' || ctx.res.destroyed) {
      ctx.error ??= 'client closed the connection';
      return;
    }
    this.sendError(ctx, chain, err instanceof GatewayError ? err : toGatewayError(err));
  }

  private readonly pluginError = (p: PluginInstance, err: unknown): void => {
    this.deps.logger.error({ err, plugin: p.name, instance: p.instanceName ?? undefined }, 'plugin phase failed');
  };

  /** Response closed (sent, or client gone): stop the upstream, settle, log. Runs once. */
  private onClose(ctx: RequestContext, rt: Runtime): void {
    ctx.endNs = process.hrtime.bigint();
    if (this.listening.size > 0) this.listening.delete(ctx);
    const upstream = ctx.get(UPSTREAM);
    const cut = this.deps.closedByGateway?.() === true;
    if (upstream !== undefined) {
      const why = cut ? CUT_AT_SHUTDOWN : 'client closed the connection';
      ctx.error ??= why;
      upstream.abort(new Error(why));
    } else if (cut && ctx.status === 101) {
      ctx.error ??= CUT_AT_SHUTDOWN; // a WebSocket still open when the drain ran out
    }
    // 499 (nginx's "client closed request") when the client left before any response.
    if (ctx.status === 0) ctx.status = ctx.res.headersSent ? ctx.res.statusCode : 499;
    const chain = ctx.route?.chain ?? rt.globalChain;
    const finish = () => {
      if (chain.log.length > 0) runSyncPhase(chain.log, 'log', ctx, this.pluginError);
      rt.leave();
      this.deps.onRequestEnd?.(ctx);
    };
    const pending = chain.responseEnd.length === 0 ? undefined : runResponseEnd(chain, ctx, this.pluginError);
    if (pending === undefined) finish();
    else pending.then(finish, finish);
  }
}

/** The connection's peer address, IPv4-mapped IPv6 as plain IPv4. */
function peerAddress(req: IncomingMessage): string {
  const remote = req.socket.remoteAddress ?? '';
  return remote.startsWith('::ffff:') ? remote.slice(7) : remote;
}

/**
 * A plain-HTTP request that a trusted proxy (trusted_proxies) says arrived over HTTPS
 * (`X-Forwarded-Proto: https`): it terminated TLS in front, so an https-only route serves it,
 * as Kong decides for `protocols`. From any other peer the header is the client's and ignored.
 */
function forwardedHttps(ctx: RequestContext, rt: Runtime): boolean {
  const xfp = ctx.req.headers['x-forwarded-proto'];
  if (typeof xfp !== 'string') return false;
  const first = xfp.split(',')[0]!.trim().toLowerCase();
  return first === 'https' && rt.clientIp.isTrusted(peerAddress(ctx.req));
}

const ABSOLUTE_FORM = /^https?:\/\/([^/?]*)(.*)$/i;

/**
 * RFC 9112 §3.2.2: a request target in absolute form (`GET http://api.example.com/v1/x`) must be
 * accepted, its authority replacing the Host field (checked by checkHost like any Host). Returns
 * the origin form (`/v1/x`); anything else is returned as is (and refused as a bad path).
 */
function originForm(req: IncomingMessage, target: string): string {
  const m = ABSOLUTE_FORM.exec(target);
  if (m === null) return target;
  req.headers.host = m[1]!;
  const rest = m[2]!;
  return rest === '' ? '/' : rest.charCodeAt(0) === 0x3f ? `/${rest}` : rest;
}

/** RFC 9112 §3.2: a Host field is required on HTTP/1.1, once, and must be a valid host[:port] (HOST). */

function checkHost(req: IncomingMessage): void {
  const host = req.headers.host;
  if (host === undefined) {
    if (req.httpVersionMajor === 1 && req.httpVersionMinor >= 1) throw new BadRequestError('Missing Host header', undefined, 'TG_BAD_HOST');
    return;
  }
  if (!HOST.test(host)) throw new BadRequestError('Bad Host header', undefined, 'TG_BAD_HOST');
}

/**
 * `.` or `..` at `at`, as an upstream may read it: the segment ends at `/`, at an encoded slash
 * or backslash (nginx decodes them), or at `;` (Tomcat and Spring drop path parameters).
 */
function startsWithDotSegment(path: string, at: number): boolean {
  let end = path.length;
  for (const sep of ['/', '%2F', '%5C', ';']) {
    const i = path.indexOf(sep, at);
    if (i >= 0 && i < end) end = i;
  }
  const seg = path.slice(at, end);
  return seg === '.' || seg === '..';
}

/** A path an upstream may read differently: an encoded slash or backslash, or a `;` parameter. */
function hasOtherReadings(path: string): boolean {
  return path.includes('%2F') || path.includes('%5C') || path.includes(';');
}

/**
 * True when a reading an upstream may make of `path` routes elsewhere than `route` (or nowhere):
 * nginx decodes `%2F` and merges the slashes (`/%2Fadmin` is `/admin`), Tomcat and Spring drop
 * each segment's `;` parameters (`/a;x/b` is `/a/b`). Such a request would reach another
 * route's upstream path past this route's plugins. Only paths holding those (rare) pay this.
 */
function otherReadingsRoute(path: string, routeOf: (p: string) => unknown, route: unknown): boolean {
  const slashes = (p: string) => p.replace(/%2F|%5C/g, '/');
  const params = (p: string) => p.replace(/;[^/]*/g, '');
  for (const read of [slashes, params, (p: string) => params(slashes(p))]) {
    const other = read(path);
    if (other === path) continue;
    const normal = normalizePath(other.startsWith('/') ? other : `/${other}`);
    if (normal === null) return true; // a dot segment or an escape from the root in that reading
    // A reading no route matches reaches no other route's upstream (a regex route matching
    // `org%2Fmodel` as one segment, say): only another route is a bypass.
    const other2 = routeOf(normal);
    if (other2 !== undefined && other2 !== route) return true;
  }
  return false;
}

/** The body as JSON for the plugins (undefined when it is not); with `aiPath`, the AI facts too. */
function parseJsonBody(ctx: RequestContext, body: Buffer, aiPath: string | null, limit: number): void {
  const encoding = ctx.req.headers['content-encoding'];
  if (encoding !== undefined && encoding !== 'identity') {
    // A compressed body (which lenient upstreams accept) is read for what it asks, never
    // rewritten: it goes upstream as sent, so ctx.json stays unset (no usage injection).
    if (aiPath === null) return;
    const plain = decoded(body, encoding, limit);
    // Undecodable, or larger than max_body_size once decoded: bounded by that size.
    ctx.aiRequest = plain === null ? inspectRequest(aiPath, undefined, limit) : inspectRequest(aiPath, jsonOf(plain), plain.length);
    return;
  }
  ctx.json = jsonOf(body);
  if (aiPath !== null) ctx.aiRequest = inspectRequest(aiPath, ctx.json, body.length);
}

function jsonOf(body: Buffer): unknown {
  try {
    // toString drops nothing: a UTF-8 BOM becomes U+FEFF, which JSON.parse refuses; skip it.
    const text = body.toString('utf8');
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch {
    return undefined;
  }
}

/** A request body in one of the usual codings, decoded up to `limit` bytes; null otherwise. */
function decoded(body: Buffer, encoding: string, limit: number): Buffer | null {
  const opts = { maxOutputLength: limit };
  try {
    switch (encoding.trim().toLowerCase()) {
      case 'gzip':
      case 'x-gzip':
        return gunzipSync(body, opts);
      case 'deflate':
        return inflateSync(body, opts);
      case 'br':
        return brotliDecompressSync(body, opts);
      default:
        return null;
    }
  } catch {
    return null;
  }
}
