import { Agent, interceptors, request, type Dispatcher } from 'undici';
import type { RequestContext } from '../../core/context.js';
import { readBounded } from '../../core/boundedBody.js';

/** Largest auth-service answer read (an identity document is a few hundred bytes). */
const MAX_ANSWER_BYTES = 64 * 1024;

/** Failures worth another try: timeouts, connection errors (the answers 5xx are retried too). */
const RETRIED_ERRORS = [
  'ECONNRESET',
  'ECONNREFUSED',
  'ENOTFOUND',
  'ENETDOWN',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EHOSTUNREACH',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
];

export interface AuthAnswer {
  status: number;
  body: unknown;
  /** The service's Cache-Control, if any: `no-store` / `max-age` bound the decision cache. */
  cacheControl: string | null;
  /** `invalid`: a body that is not a JSON object (an HTML page, an array, too large, cut). */
  bodyKind: 'object' | 'empty' | 'invalid';
}

export interface AuthClientOptions {
  url: string;
  method: 'POST' | 'GET';
  timeoutMs: number;
  retries: number;
  sslVerify: boolean;
}

/** SPEC §5: timeouts, connection errors and every 5xx are retried `retry_count` times. */
const EVERY_5XX = Array.from({ length: 100 }, (_, i) => 500 + i);

/**
 * Calls the auth service through one undici Agent composed with undici's retry interceptor:
 * each attempt is bounded by the timeout; timeouts, connection errors and 5xx are retried
 * `retries` times (short exponential backoff). Resolves with a final non-5xx answer, throws
 * when every attempt failed.
 */
export class AuthClient {
  private readonly dispatcher: Dispatcher;
  private readonly agent: Agent;

  /** The whole call, every attempt and its backoff (at most 1 s each) included. */
  private readonly deadlineMs: number;

  constructor(private readonly opts: AuthClientOptions) {
    this.deadlineMs = opts.timeoutMs * (opts.retries + 1) + 1000 * opts.retries;
    this.agent = new Agent({
      connect: { timeout: opts.timeoutMs, rejectUnauthorized: opts.sslVerify },
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
    });
    this.dispatcher = this.agent.compose(
      interceptors.retry({
        maxRetries: opts.retries,
        methods: ['POST', 'GET'],
        statusCodes: EVERY_5XX,
        errorCodes: RETRIED_ERRORS,
        minTimeout: 50,
        maxTimeout: 1000,
        timeoutFactor: 2,
        retryAfter: false,
      }),
    );
  }

  async call(ctx: RequestContext, authorization: string): Promise<AuthAnswer> {
    const headers: Record<string, string> = {
      authorization,
      'x-forwarded-for': forwardedFor(ctx),
      'x-forwarded-method': ctx.method,
      // The path as routed and forwarded, not as sent: `/a/x/../admin` is judged as `/a/admin`.
      'x-forwarded-uri': (ctx.routedPath ?? ctx.path) + ctx.query,
      'x-request-id': ctx.id,
      accept: 'application/json',
    };
    let body: string | undefined;
    if (this.opts.method === 'POST') {
      headers['content-type'] = 'application/json';
      body = JSON.stringify({ method: ctx.method, path: ctx.routedPath ?? ctx.path, headers: requestHeaders(ctx) });
    }
    // undici's timeouts bound the gaps between events (connect, headers, each body chunk); this
    // bounds the whole call, so a service that trickles its answer cannot hold the request.
    const signal = AbortSignal.timeout(this.deadlineMs);
    const res = await request(this.opts.url, { dispatcher: this.dispatcher, method: this.opts.method, headers, body, signal });
    if (res.statusCode >= 500) {
      await res.body.dump();
      throw new Error(`auth service answered ${res.statusCode}`);
    }
    const cc = res.headers['cache-control'];
    const answer = await readJson(res.body, String(res.headers['content-type'] ?? ''));
    return { status: res.statusCode, body: answer.body, bodyKind: answer.kind, cacheControl: cc === undefined ? null : Array.isArray(cc) ? cc.join(', ') : cc };
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

function forwardedFor(ctx: RequestContext): string {
  const xff = ctx.upstreamHeaders['x-forwarded-for'];
  if (typeof xff === 'string') return xff;
  return Array.isArray(xff) ? xff.join(', ') : ctx.clientIp;
}

/**
 * The caller's headers, minus cookies (SPEC §5), as the upstream would get them: the client's
 * own identity, spoofable and hop-by-hop headers are gone and X-Forwarded-* are the gateway's
 * (a service reading the client's address or user from the body is not misled), plus the
 * Host the client addressed.
 */
function requestHeaders(ctx: RequestContext): Record<string, string> {
  const out: Record<string, string> = {};
  const h = ctx.upstreamHeaders;
  for (const name in h) {
    if (name === 'cookie') continue;
    const v = h[name];
    if (v !== undefined) out[name] = Array.isArray(v) ? v.join(', ') : v;
  }
  const host = ctx.req.headers.host;
  if (host !== undefined) out.host = host;
  return out;
}

/**
 * The answer's body. `invalid` when it cannot be a decision: over MAX_ANSWER_BYTES, an HTML page
 * (a maintenance or proxy error page served with 200), or JSON that is not an object. A body
 * of another type (`text/plain` "OK", as nginx auth_request services answer) is `empty`: an
 * allow with no identity, as SPEC §5 has it.
 */
async function readJson(body: Dispatcher.ResponseData['body'], contentType: string): Promise<{ body: unknown; kind: AuthAnswer['bodyKind'] }> {
  const bytes = await readBounded(body, MAX_ANSWER_BYTES);
  if (bytes === null) return { body: null, kind: 'invalid' };
  const text = bytes.toString('utf8');
  if (text.trim() === '') return { body: null, kind: 'empty' };
  const type = contentType.toLowerCase();
  if (type.includes('html')) return { body: null, kind: 'invalid' };
  let value: unknown = null;
  try {
    value = JSON.parse(text);
  } catch {
    /* not JSON: decided by its type below */
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) return { body: value, kind: 'object' };
  return { body: null, kind: type.includes('json') ? 'invalid' : 'empty' };
}
