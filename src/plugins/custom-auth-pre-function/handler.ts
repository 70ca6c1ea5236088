import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { definePlugin, type PluginHandler } from '../../core/plugin.js';
import type { Identity, RequestContext } from '../../core/context.js';
import { BadRequestError, ForbiddenError, ServiceUnavailableError, UnauthorizedError } from '../../core/errors.js';
import { VerifiedTokenCache } from '../jwt/tokenCache.js';
import { copyIdentity } from '../jwt/identity.js';
import { customAuthSchema, type CustomAuthConfig } from './schema.js';
import { AuthClient, type AuthAnswer } from './authClient.js';
import { CircuitBreaker } from './breaker.js';
import { identityFromAnswer } from './answer.js';

/** A remembered decision of the auth service (only when `cache_ttl` > 0). */
type Decision = { allow: true; identity: Identity; expiresAt: number } | { allow: false; status: 401 | 403; expiresAt: number };
type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

const UNAVAILABLE = 'The authentication service is unavailable, try again later';

/**
 * Node joins repeated header lines with ", " (gateway.ts: joinDuplicateHeaders), and one
 * Authorization value may hold commas itself (Digest), so two lines cannot be told from the
 * joined value: the raw lines are counted. The service and the upstream could each take a
 * different one of them.
 */
function repeatedAuthorization(raw: string[]): boolean {
  let seen = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length !== 13 || name.toLowerCase() !== 'authorization') continue;
    if (seen) return true;
    seen = true;
  }
  return false;
}

function deny(status: 401 | 403): never {
  if (status === 403) throw new ForbiddenError();
  throw new UnauthorizedError('Unauthorized', { 'www-authenticate': 'Bearer error="invalid_token"' });
}

/**
 * One configured entry: the client (undici, retries, timeouts), its circuit breaker and the
 * optional decision cache. `authenticate` is synchronous on a cache hit or an open breaker.
 */
class PreFunctionAuth implements PluginHandler {
  private readonly client: AuthClient;
  private readonly breaker: CircuitBreaker;
  private readonly decisions: VerifiedTokenCache<Decision> | null;
  /** Calls under way by cache key: concurrent identical requests share one (with cache_ttl). */
  private readonly asking = new Map<string, Promise<Identity>>();
  private readonly ttl: number;

  constructor(
    config: CustomAuthConfig,
    private readonly logger: Logger,
  ) {
    this.client = new AuthClient({
      url: config.auth_service_url,
      method: config.method,
      timeoutMs: config.auth_service_timeout,
      retries: config.retry_count,
      sslVerify: config.ssl_verify,
    });
    this.breaker = new CircuitBreaker(config.circuit_breaker.failure_threshold, config.circuit_breaker.reset_timeout);
    this.ttl = config.cache_ttl;
    this.decisions = this.ttl > 0 ? new VerifiedTokenCache<Decision>() : null;
  }

  authenticate(ctx: RequestContext): Identity | null | Promise<Identity> {
    const authorization = ctx.req.headers.authorization;
    if (authorization === undefined || authorization === '') return null;
    if (repeatedAuthorization(ctx.req.rawHeaders)) throw new BadRequestError('Send one Authorization header, not several');
    const now = Date.now();
    let cacheKey: string | null = null;
    if (this.decisions !== null) {
      // Everything a service is likely to decide on: the caller's credential, what it asks
      // for (method, path and query, host) and for which workspace. A service that decides on
      // other headers answers `Cache-Control: no-store`, or runs with cache_ttl 0.
      const h = ctx.req.headers;
      cacheKey = createHash('sha256').update(`${ctx.method} ${h.host ?? ''}${ctx.routedPath ?? ctx.path}${ctx.query}\n${String(h['x-workspace-id'] ?? '')}\n${authorization}`).digest('base64url');
      const hit = this.decisions.get(cacheKey, now);
      if (hit !== undefined) return hit.allow ? copyIdentity(hit.identity) : deny(hit.status);
    }
    if (cacheKey === null) {
      if (!this.breaker.allow(now)) throw this.unavailable();
      return this.ask(ctx, authorization, null).then(copyIdentity);
    }
    // A request arriving while the same question is being asked waits for that answer instead
    // of asking again (20 concurrent requests, one call), and takes it from the cache: an
    // answer the service kept from the cache (no-store, an error) was for that request only,
    // so the waiting ones then ask for themselves.
    const key = cacheKey;
    const shared = this.asking.get(key);
    if (shared !== undefined) {
      const after = () => this.afterShared(ctx, authorization, key);
      return shared.then(after, after);
    }
    if (!this.breaker.allow(now)) throw this.unavailable();
    const pending = this.ask(ctx, authorization, key);
    this.asking.set(key, pending);
    const done = () => void this.asking.delete(key);
    pending.then(done, done);
    return pending.then(copyIdentity);
  }

  private afterShared(ctx: RequestContext, authorization: string, key: string): Identity | Promise<Identity> {
    const hit = this.decisions!.get(key);
    if (hit !== undefined) return hit.allow ? copyIdentity(hit.identity) : deny(hit.status);
    if (!this.breaker.allow(Date.now())) throw this.unavailable();
    return this.ask(ctx, authorization, key).then(copyIdentity);
  }

  /** The service's decision: the identity (shared with the cache; callers copy it), or throws. */
  private async ask(ctx: RequestContext, authorization: string, cacheKey: string | null): Promise<Identity> {
    let answer: AuthAnswer;
    try {
      answer = await this.client.call(ctx, authorization);
    } catch (err) {
      this.breaker.failed(Date.now());
      this.logger.warn({ err: (err as Error).message, request_id: ctx.id, breaker: this.breaker.state }, 'auth service call failed');
      throw this.unavailable(err);
    }
    const { status } = answer;
    if (status === 401 || status === 403) {
      this.breaker.succeeded();
      this.remember(cacheKey, answer, { allow: false, status });
      deny(status);
    }
    if (status < 200 || status >= 300) {
      this.breaker.failed(Date.now());
      this.logger.warn({ status, request_id: ctx.id }, 'auth service gave an unexpected status');
      throw this.unavailable();
    }
    if (answer.bodyKind === 'invalid') {
      // A 2xx whose body is no JSON object (a maintenance page served with 200, a proxy's error
      // page) is not a decision: allowing on it would let everyone in while the service is broken.
      this.breaker.failed(Date.now());
      this.logger.warn({ status, request_id: ctx.id }, 'auth service answered 2xx without a JSON object; treated as a failure');
      throw this.unavailable();
    }
    this.breaker.succeeded();
    const identity = identityFromAnswer(answer.body);
    this.remember(cacheKey, answer, { allow: true, identity });
    return identity;
  }

  /** Keeps a decision for cache_ttl, or less when the service's Cache-Control says so. */
  private remember(cacheKey: string | null, answer: AuthAnswer, decision: DistributiveOmit<Decision, 'expiresAt'>): void {
    if (cacheKey === null || this.decisions === null) return;
    const ttl = cacheLifetime(answer.cacheControl, this.ttl);
    if (ttl > 0) this.decisions.set(cacheKey, { ...decision, expiresAt: Date.now() + ttl } as Decision);
  }

  private unavailable(cause?: unknown): ServiceUnavailableError {
    return new ServiceUnavailableError(UNAVAILABLE, 'TG_DEPENDENCY_DOWN', cause, { 'retry-after': String(Math.max(1, this.breaker.retryAfterSeconds(Date.now()))) });
  }

  entitiesChanged(): void {
    this.decisions?.clear();
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/** ms a decision may be reused: cache_ttl, capped by `max-age`; none with `no-store` or `no-cache`. */
export function cacheLifetime(cacheControl: string | null, ttlMs: number): number {
  if (cacheControl === null) return ttlMs;
  let ttl = ttlMs;
  for (const part of cacheControl.toLowerCase().split(',')) {
    const directive = part.trim();
    if (directive === 'no-store' || directive === 'no-cache') return 0;
    const m = /^max-age\s*=\s*"?(\d+)"?$/.exec(directive);
    if (m) ttl = Math.min(ttl, Number(m[1]) * 1000);
  }
  return ttl;
}

/**
 * `custom-auth-pre-function` (seed 004): asks an external auth service about every request
 * that carries an `Authorization` header. 2xx allows (its JSON gives the identity), 401/403
 * deny, timeouts / connection errors / 5xx are retried `retry_count` times and then answer 503;
 * a circuit breaker per entry answers 503 at once while the service keeps failing.
 */
export default definePlugin<CustomAuthConfig>({
  name: 'custom-auth-pre-function',
  version: '1.0.0',
  phase: 'authentication',
  schema: customAuthSchema,
  create: (config, env) => new PreFunctionAuth(config, env.logger),
});
