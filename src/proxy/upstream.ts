import { Pool, type Dispatcher } from 'undici';
import type { ServiceConfig } from '../config/schema.js';

/**
 * One undici Pool per upstream (keep-alive connections, timeouts), composed with the
 * connection-failure retry interceptor. Pools are cached by everything that shapes them, so a
 * config reload that leaves a service alone keeps its warm connections.
 */

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
/** Failures that happen before the upstream saw the request: safe to retry an idempotent request. */
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
  const code = (err as { code?: string } | null)?.code;
  return code !== undefined && CONNECT_FAILURES.has(code);
}

export function isTimeout(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
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

/** Cache of dispatchers keyed by origin + timeouts + retries + TLS verification. */
export class UpstreamPools {
  private readonly pools = new Map<string, { pool: Pool; dispatcher: Dispatcher }>();

  constructor(private readonly settings: PoolSettings) {}

  private static key(s: ServiceConfig, origin: string): string {
    return [origin, s.connect_timeout, s.read_timeout, s.write_timeout, s.retries, s.tls_verify].join('|');
  }

  get(s: ServiceConfig): { dispatcher: Dispatcher; key: string } {
    const { origin } = upstreamTarget(s);
    const key = UpstreamPools.key(s, origin);
    let entry = this.pools.get(key);
    if (!entry) {
      const pool = new Pool(origin, {
        connections: this.settings.keepAliveConnections,
        pipelining: 1,
        connect: { timeout: s.connect_timeout, rejectUnauthorized: s.tls_verify },
        headersTimeout: s.read_timeout,
        bodyTimeout: s.read_timeout,
        keepAliveTimeout: 60_000,
        keepAliveMaxTimeout: 600_000,
      });
      entry = { pool, dispatcher: pool.compose(connectRetry(s.retries)) };
      this.pools.set(key, entry);
    }
    return { dispatcher: entry.dispatcher, key };
  }

  /** Closes pools no longer used by the live config (after the old config drained). */
  async retain(keys: ReadonlySet<string>): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const [key, entry] of this.pools) {
      if (keys.has(key)) continue;
      this.pools.delete(key);
      closing.push(entry.pool.close().catch(() => {}));
    }
    await Promise.all(closing);
  }

  async closeAll(): Promise<void> {
    await this.retain(new Set());
  }
}
