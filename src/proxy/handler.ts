import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { RequestContext } from '../core/context.js';
import {
  BadRequestError,
  GatewayError,
  NoRouteError,
  PayloadTooLargeError,
  UpgradeRequiredError,
  toGatewayError,
} from '../core/errors.js';
import { runAccessPhases, runResponseEnd, runSyncPhase, type Chain, type PluginInstance } from '../core/pipeline.js';
import type { Runtime, CompiledRoute } from '../core/runtime.js';
import type { CounterStore } from '../counters/types.js';
import { setIdentityHeaders, upstreamRequestHeaders } from './headers.js';
import { normalizePath } from './normalizePath.js';
import { upstreamPath } from './router.js';
import { BodyLimit, declaredLength, hasBody, isJson, readBody } from './requestBody.js';
import { ResponseForwarder, type ForwardHost } from './forward.js';
import { matchEndpoint, serveEndpoint } from './endpoints.js';
import { inspectRequest, prepareUpstreamBody } from '../ai/index.js';

const REQUEST_ID = /^[A-Za-z0-9._:@+=\-/]{1,200}$/;

/** The live config, swapped atomically on reload. */
export interface RuntimeSource {
  current(): Runtime;
}

export interface ProxyDeps {
  runtimes: RuntimeSource;
  counters: CounterStore;
  logger: Logger;
  /** Called when a request's log phase has run (for drain accounting). */
  onRequestEnd?(ctx: RequestContext): void;
}

const upstreamState = new WeakMap<RequestContext, { forwarder: ResponseForwarder | null; ended: boolean }>();

/**
 * The request path (docs/architecture.md): context → route → access phases (auth, authz,
 * limits) → proxy (streamed) → response headers → response end → log. Every request, routed
 * or not, runs the log phase exactly once, when the client response is closed.
 */
export class ProxyHandler implements ForwardHost {
  constructor(private readonly deps: ProxyDeps) {}

  /** `request` listener for the HTTP and HTTPS proxy servers. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const { ctx, rt } = this.begin(req, res);
    this.process(ctx, rt).catch((err: unknown) => this.fail(ctx, ctx.route?.chain ?? rt.globalChain, err));
  };

  /** Starts a request: pins the live runtime, builds the context, arms the log phase. */
  begin(req: IncomingMessage, res: ServerResponse): { ctx: RequestContext; rt: Runtime } {
    const rt = this.deps.runtimes.current();
    rt.enter();
    const ctx = this.createContext(req, res, rt);
    upstreamState.set(ctx, { forwarder: null, ended: false });
    res.once('close', () => this.onClose(ctx, rt));
    return { ctx, rt };
  }

  createContext(req: IncomingMessage, res: ServerResponse, rt: Runtime): RequestContext {
    const socket = req.socket as IncomingMessage['socket'] & { encrypted?: boolean };
    const url = req.url ?? '/';
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

  /** Matches the route and checks what can be checked before any plugin runs. */
  resolveRoute(ctx: RequestContext, rt: Runtime): { route: CompiledRoute; path: string; stripLength: number } {
    const path = ctx.path.startsWith('/') ? normalizePath(ctx.path) : null;
    if (path === null) throw new BadRequestError('Bad request path', undefined, 'TG_BAD_PATH');
    const hostHeader = ctx.req.headers.host ?? '';
    const host = hostHeader.replace(/:\d+$/, '').toLowerCase();
    const match = rt.router.match(ctx.method, path, host, ctx.req.headers);
    if (match === null) throw new NoRouteError();
    const route = match.route;
    ctx.route = route;
    ctx.service = route.service;
    if (ctx.tls ? !route.https : !route.http) throw new UpgradeRequiredError();
    return { route, path, stripLength: route.config.strip_path ? match.matchedLength : 0 };
  }

  private async process(ctx: RequestContext, rt: Runtime): Promise<void> {
    const endpoint = matchEndpoint(rt, ctx);
    if (endpoint !== null) return serveEndpoint(ctx, rt, endpoint, () => this.runResponseHeaders(ctx, rt.globalChain));
    const { route, path, stripLength } = this.resolveRoute(ctx, rt);
    const req = ctx.req;
    const limit = rt.config.gateway.max_body_size;
    const length = declaredLength(req);
    if (length > limit) throw new PayloadTooLargeError();
    const chain = route.chain;
    ctx.upstreamHeaders = this.buildUpstreamHeaders(ctx, rt, route);
    const withBody = hasBody(req);
    if (withBody && chain.needsBody && isJson(req.headers['content-type'])) {
      ctx.body = await readBody(req, limit);
      ctx.bytesIn = ctx.body.length;
      try {
        ctx.json = JSON.parse(ctx.body.toString('utf8'));
      } catch {
        ctx.json = undefined;
      }
      if (chain.observesAi) ctx.aiRequest = inspectRequest(path, ctx.json);
    }
    await runAccessPhases(chain, ctx, this.deps.counters);
    if (ctx.identity !== null) setIdentityHeaders(ctx.upstreamHeaders, ctx.identity);
    if (ctx.workspaceId !== null) ctx.upstreamHeaders['x-workspace-id'] = ctx.workspaceId;
    if (chain.observesAi) {
      ctx.upstreamHeaders['accept-encoding'] = 'identity';
      if (ctx.json !== undefined) {
        const changed = prepareUpstreamBody(path, ctx.json);
        if (changed !== null) ctx.body = Buffer.from(JSON.stringify(changed));
      }
    }
    this.forward(ctx, route, upstreamPath(route.service.basePath, path, stripLength, ctx.query), withBody, limit);
  }

  buildUpstreamHeaders(ctx: RequestContext, rt: Runtime, route: CompiledRoute): Record<string, string | string[]> {
    const req = ctx.req;
    const peer = req.socket.remoteAddress ?? '';
    const hostHeader = req.headers.host ?? '';
    const headers = upstreamRequestHeaders(req.headers, {
      clientIp: ctx.clientIp,
      peerIp: peer.startsWith('::ffff:') ? peer.slice(7) : peer,
      peerTrusted: rt.clientIp.isTrusted(peer.startsWith('::ffff:') ? peer.slice(7) : peer),
      proto: ctx.tls ? 'https' : 'http',
      port: req.socket.localPort ?? 0,
      host: hostHeader.replace(/:\d+$/, ''),
      requestId: ctx.id,
    });
    headers.host = route.config.preserve_host && hostHeader ? hostHeader : route.service.hostHeader;
    return headers;
  }

  private forward(ctx: RequestContext, route: CompiledRoute, path: string, withBody: boolean, bodyLimit: number): void {
    const state = upstreamState.get(ctx)!;
    if (ctx.res.destroyed) return;
    const forwarder = new ResponseForwarder(ctx, route.chain, this);
    state.forwarder = forwarder;
    let body: Buffer | IncomingMessage | BodyLimit | null = null;
    const headers = ctx.upstreamHeaders;
    if (ctx.body !== null) {
      body = ctx.body;
      headers['content-length'] = String(ctx.body.length);
      delete headers['transfer-encoding'];
    } else if (withBody) {
      // No 'data' listeners here: they would switch the stream to flowing mode and chunks
      // could pass before undici starts reading. Sizes come from the declared length or
      // from the counting transform.
      const req = ctx.req;
      const declared = declaredLength(req);
      if (declared >= 0) {
        body = req;
        ctx.bytesIn = declared;
      } else {
        const limiter = new BodyLimit(bodyLimit, (n) => (ctx.bytesIn = n));
        body = req.pipe(limiter);
      }
    }
    ctx.upstreamStartNs = process.hrtime.bigint();
    route.service.dispatcher.dispatch({ path, method: ctx.method, headers, body }, forwarder);
  }

  /** ForwardHost: response-headers phase. */
  runResponseHeaders(ctx: RequestContext, chain: Chain): void {
    if (chain.responseHeaders.length > 0) runSyncPhase(chain.responseHeaders, 'responseHeaders', ctx, this.pluginError);
  }

  upstreamDone(ctx: RequestContext): void {
    const state = upstreamState.get(ctx);
    if (state) state.ended = true;
  }

  /** ForwardHost: writes the SPEC §4 JSON error (or cuts the connection if headers are out). */
  sendError(ctx: RequestContext, chain: Chain, err: GatewayError): void {
    const res = ctx.res;
    ctx.status = err.status;
    if (err.status >= 500 && err.expose === false) this.deps.logger.error({ err: err.cause ?? err, request_id: ctx.id }, 'request failed');
    ctx.error ??= err.message;
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    this.runResponseHeaders(ctx, chain);
    const message = err.expose ? err.message : 'An unexpected error occurred';
    const body = JSON.stringify({ message, request_id: ctx.id });
    const headers: Record<string, string | number> = { ...ctx.responseHeaders, ...err.headers };
    headers['content-type'] = 'application/json; charset=utf-8';
    headers['content-length'] = Buffer.byteLength(body);
    headers['x-request-id'] = ctx.id;
    ctx.bytesOut += Buffer.byteLength(body);
    res.writeHead(err.status, headers);
    res.end(ctx.method === 'HEAD' ? undefined : body);
    // An unread request body would otherwise stall keep-alive; drain it (bounded by max_body_size).
    if (!ctx.req.complete) ctx.req.resume();
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
    const state = upstreamState.get(ctx);
    if (state?.forwarder && !state.ended) {
      ctx.error ??= 'client closed the connection';
      state.forwarder.abort(new Error('client closed the connection'));
    }
    // 499 (nginx's "client closed request") when the client left before any response.
    if (ctx.status === 0) ctx.status = ctx.res.headersSent ? ctx.res.statusCode : 499;
    const chain = ctx.route?.chain ?? rt.globalChain;
    const finish = () => {
      if (chain.log.length > 0) runSyncPhase(chain.log, 'log', ctx, this.pluginError);
      rt.leave();
      this.deps.onRequestEnd?.(ctx);
    };
    if (chain.responseEnd.length === 0) finish();
    else runResponseEnd(chain, ctx, this.pluginError).then(finish, finish);
  }
}
