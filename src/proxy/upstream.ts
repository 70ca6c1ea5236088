import { Dispatcher, Pool } from 'undici';
import type { ServiceConfig } from '../config/schema.js';

/**
 * One keep-alive pool per upstream (timeouts, `upstream_keepalive` connections), composed with
 * the connection-failure retry interceptor. Pools are cached by everything that shapes them, so
 * a config reload that leaves a service alone keeps its warm connections.
 */

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
/**
 * Connection failures before any response byte: the connection could not be made, or broke
 * (a stale keep-alive connection the upstream had closed, or one reset while the request was
 * sent or its answer awaited, so the upstream may have seen it: nginx's `proxy_next_upstream
 * error` and Kong retry those too). Only idempotent requests are retried (`retries` times).
 */
const CONNECT_FAILURES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

export function isConnectFailure(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | null;
  const code = e?.code;
  if (code === undefined || !CONNECT_FAILURES.has(code)) return false;
  // undici's answer to a response it cannot take (a 100 Continue nobody asked for): the same
  // request would get the same answer, so it is not sent again.
  return !(code === 'UND_ERR_SOCKET' && e?.message === 'bad response');
}

/** No answer in time: the connect (connect_timeout), the head or a body gap (read_timeout): 504. */
export function isTimeout(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT';
}

/** Re-dispatches on a connection failure that happened before any response byte. */
class ConnectRetryHandler implements Dispatcher.DispatchHandler {
  private responded = false;

  constructor(
    private readonly dispatch: Dispatcher.Dispatch,
    private readonly opts: Dispatcher.DispatchOptions,
    private readonly handler: Dispatcher.DispatchHandler,
    private retriesLeft: number,
  ) {}

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.handler.onRequestStart?.(controller, context);
  }

  onRequestUpgrade(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[]>, socket: import('node:stream').Duplex): void {
    this.responded = true;
    this.handler.onRequestUpgrade?.(controller, statusCode, headers as never, socket);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[]>, statusMessage?: string): void {
    this.responded = true;
    this.handler.onResponseStart?.(controller, statusCode, headers as never, statusMessage);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.handler.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: Record<string, string | string[]>): void {
    this.handler.onResponseEnd?.(controller, trailers as never);
  }

  onResponseError(controller: Dispatcher.DispatchController, err: Error): void {
    if (!this.responded && this.retriesLeft > 0 && isConnectFailure(err)) {
      this.retriesLeft--;
      this.dispatch(this.opts, this);
      return;
    }
    this.handler.onResponseError?.(controller, err);
  }
}

/**
 * undici interceptor: retries connection failures of idempotent requests whose body can be
 * replayed (none, or buffered). Read timeouts are never retried (SPEC §4).
 */
export function connectRetry(retries: number): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts, handler) => {
    const body = opts.body;
    const replayable = body === null || body === undefined || typeof body === 'string' || Buffer.isBuffer(body);
    if (retries === 0 || !replayable || !IDEMPOTENT.has(opts.method)) return dispatch(opts, handler);
    return dispatch(opts, new ConnectRetryHandler(dispatch, opts, handler, retries));
  };
}

export interface UpstreamTarget {
  origin: string;
  basePath: string;
  hostHeader: string;
}

/** `url` or protocol/host/port/path → origin, base path and Host header value. */
export function upstreamTarget(s: ServiceConfig): UpstreamTarget {
  const url = s.url ? new URL(s.url) : new URL(`${s.protocol ?? 'http'}://${s.host}${s.port ? `:${s.port}` : ''}${s.path ?? ''}`);
  const basePath = url.pathname === '/' ? '' : url.pathname;
  return { origin: url.origin, basePath, hostHeader: url.host };
}

export interface PoolSettings {
  keepAliveConnections: number;
}

/** Idle time after which a connection opened beyond `upstream_keepalive` is closed. */
const OVERFLOW_IDLE_MS = 4_000;

/**
 * nginx's `keepalive N` for undici: N connections per upstream are kept open for reuse; while
 * all N are busy, further requests open more connections (as many as they need), which close
 * after OVERFLOW_IDLE_MS idle. An undici Pool's `connections` is a cap, not a keep-alive size:
 * requests beyond it wait in its queue with no timeout at all, so N long-lived answers (MCP
 * GET streams, SSE, slow generations) froze the service for everyone.
 * The main pool's dispatch() answering false means its next request would queue; its 'drain'
 * event means a connection is free again.
 */
class KeepAlivePool extends Dispatcher {
  private readonly main: Pool;
  private readonly mainDispatcher: Dispatcher;
  private overflow: { pool: Pool; dispatcher: Dispatcher } | null = null;
  private saturated = false;

  constructor(
    private readonly origin: string,
    private readonly options: Pool.Options,
    private readonly retries: number,
  ) {
    super();
    this.main = new Pool(origin, options);
    this.mainDispatcher = this.main.compose(connectRetry(retries));
    this.main.on('drain', () => (this.saturated = false));
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (!this.saturated) {
      if (!this.mainDispatcher.dispatch(opts, handler)) this.saturated = true;
      return true;
    }
    this.overflow ??= this.openOverflow();
    return this.overflow.dispatcher.dispatch(opts, handler);
  }

  private openOverflow(): { pool: Pool; dispatcher: Dispatcher } {
    const pool = new Pool(this.origin, { ...this.options, connections: null, keepAliveTimeout: OVERFLOW_IDLE_MS, keepAliveMaxTimeout: OVERFLOW_IDLE_MS });
    return { pool, dispatcher: pool.compose(connectRetry(this.retries)) };
  }

  /** Closes both pools (after the requests using them drained). */
  async shutdown(): Promise<void> {
    await Promise.all([this.main.close().catch(() => {}), this.overflow?.pool.close().catch(() => {})]);
  }
}

/** Cache of dispatchers keyed by origin + timeouts + retries + TLS verification. */
export class UpstreamPools {
  private readonly pools = new Map<string, KeepAlivePool>();

  constructor(private readonly settings: PoolSettings) {}

  private static key(s: ServiceConfig, origin: string): string {
    return [origin, s.connect_timeout, s.read_timeout, s.write_timeout, s.retries, s.tls_verify].join('|');
  }

  get(s: ServiceConfig): { dispatcher: Dispatcher; key: string } {
    const { origin } = upstreamTarget(s);
    const key = UpstreamPools.key(s, origin);
    let pool = this.pools.get(key);
    if (!pool) {
      pool = new KeepAlivePool(
        origin,
        {
          connections: this.settings.keepAliveConnections,
          pipelining: 1,
          connect: { timeout: s.connect_timeout, rejectUnauthorized: s.tls_verify },
          headersTimeout: s.read_timeout,
          bodyTimeout: s.read_timeout,
          keepAliveTimeout: 60_000,
          keepAliveMaxTimeout: 600_000,
        },
        s.retries,
      );
      this.pools.set(key, pool);
    }
    return { dispatcher: pool, key };
  }

  /** Closes pools no longer used by the live config (after the old config drained). */
  async retain(keys: ReadonlySet<string>): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const [key, pool] of this.pools) {
      if (keys.has(key)) continue;
      this.pools.delete(key);
      closing.push(pool.shutdown());
    }
    await Promise.all(closing);
  }

  async closeAll(): Promise<void> {
    await this.retain(new Set());
  }
}
