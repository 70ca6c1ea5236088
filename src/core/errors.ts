/**
 * Typed errors with a stable `code`, an HTTP `status` and an `expose` flag (jose's JOSEError,
 * undici's UND_ERR_*). Anything thrown on the request path that is not a GatewayError becomes a
 * 500 whose body never shows internals. Every code is listed in docs/errors.md (a test checks).
 */

export type HeaderMap = Record<string, string>;

export class GatewayError extends Error {
  /** Stable machine-readable code, documented in docs/errors.md. */
  readonly code: string;
  /** HTTP status sent to the client. */
  readonly status: number;
  /** Whether `message` may be shown to the client (never true for unexpected 5xx). */
  readonly expose: boolean;
  /** Extra response headers (WWW-Authenticate, Retry-After, …). */
  readonly headers: HeaderMap | undefined;
  /** What the client is told when `message` is not exposed (default: `An unexpected error occurred`). */
  readonly publicMessage: string | undefined;
  /**
   * The condition is logged where it is detected, once per episode (a store outage): the
   * request path does not log each request it refuses for it (the audit record still has it).
   */
  readonly reported: boolean;

  constructor(code: string, status: number, message: string, opts: { expose?: boolean; headers?: HeaderMap; cause?: unknown; publicMessage?: string; reported?: boolean } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.expose = opts.expose ?? true;
    this.headers = opts.headers;
    this.publicMessage = opts.publicMessage;
    this.reported = opts.reported ?? false;
  }
}

export class BadRequestError extends GatewayError {
  constructor(message = 'Bad request', headers?: HeaderMap, code = 'TG_BAD_REQUEST') {
    super(code, 400, message, { headers });
  }
}

export class UnauthorizedError extends GatewayError {
  constructor(message = 'Unauthorized', headers: HeaderMap = { 'www-authenticate': 'Bearer' }, code = 'TG_UNAUTHORIZED') {
    super(code, 401, message, { headers });
  }
}

export class ForbiddenError extends GatewayError {
  constructor(message = 'You cannot consume this service', headers?: HeaderMap, code = 'TG_FORBIDDEN') {
    super(code, 403, message, { headers });
  }
}

export class NoRouteError extends GatewayError {
  constructor() {
    super('TG_NO_ROUTE', 404, 'no Route matched with those values');
  }
}

/** A body for one of the gateway's own endpoints that did not arrive within `gateway.headers_timeout`. */
export class RequestTimeoutError extends GatewayError {
  constructor() {
    super('TG_REQUEST_TIMEOUT', 408, 'The request body did not arrive in time; send it whole within gateway.headers_timeout', { headers: { connection: 'close' } });
  }
}

export class PayloadTooLargeError extends GatewayError {
  constructor() {
    super('TG_BODY_TOO_LARGE', 413, 'Request size limit exceeded');
  }
}

/** RFC 9112 §6.1: a transfer coding tollgate does not decode (only `chunked` is). */
export class NotImplementedError extends GatewayError {
  constructor(message: string) {
    super('TG_NOT_IMPLEMENTED', 501, message);
  }
}

export class UpgradeRequiredError extends GatewayError {
  constructor() {
    super('TG_HTTPS_REQUIRED', 426, 'Please use HTTPS protocol', {
      headers: { connection: 'Upgrade', upgrade: 'TLS/1.2, HTTP/1.1' },
    });
  }
}

export class TooManyRequestsError extends GatewayError {
  constructor(message = 'API rate limit exceeded', headers?: HeaderMap, status = 429, code = 'TG_RATE_LIMITED') {
    super(code, status, message, { headers });
  }
}

export class HeadersTooLargeError extends GatewayError {
  constructor() {
    super('TG_HEADERS_TOO_LARGE', 431, 'Request header fields too large');
  }
}

export class BadGatewayError extends GatewayError {
  constructor(cause?: unknown) {
    super('TG_UPSTREAM_BROKEN', 502, 'An invalid response was received from the upstream server', { cause });
  }
}

export class ServiceUnavailableError extends GatewayError {
  constructor(message = 'Service temporarily unavailable', code = 'TG_DEPENDENCY_DOWN', cause?: unknown, headers?: HeaderMap) {
    super(code, 503, message, { cause, headers });
  }
}

export class GatewayTimeoutError extends GatewayError {
  constructor(cause?: unknown) {
    super('TG_UPSTREAM_TIMEOUT', 504, 'The upstream server is timing out', { cause });
  }
}

/** No request-body progress towards the upstream for the service's write_timeout. */
export class UpstreamWriteTimeoutError extends GatewayError {
  constructor() {
    super('TG_UPSTREAM_WRITE_TIMEOUT', 504, 'The upstream server is timing out');
  }
}

export class InternalError extends GatewayError {
  constructor(cause?: unknown) {
    super('TG_INTERNAL', 500, 'An unexpected error occurred', { cause, expose: false });
  }
}

/** Normalises anything thrown on the request path into a GatewayError. */
export function toGatewayError(err: unknown): GatewayError {
  return err instanceof GatewayError ? err : new InternalError(err);
}

/**
 * A problem a user can fix (bad config, bad CLI argument). The CLI prints `message` alone,
 * never a stack trace, and exits with `exitCode`.
 */
export class UserError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = 'UserError';
    this.exitCode = exitCode;
  }
}
