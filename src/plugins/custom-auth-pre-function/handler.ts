import { createHash } from 'node:crypto';
import { definePlugin } from '../../core/plugin.js';
import type { Identity, RequestContext } from '../../core/context.js';
import { ForbiddenError, ServiceUnavailableError, UnauthorizedError } from '../../core/errors.js';
import { VerifiedTokenCache } from '../jwt/tokenCache.js';
import { copyIdentity } from '../jwt/identity.js';
import { customAuthSchema, type CustomAuthConfig } from './schema.js';
import { AuthClient } from './authClient.js';
import { CircuitBreaker } from './breaker.js';
import { identityFromAnswer } from './answer.js';

/** A remembered decision of the auth service (only when `cache_ttl` > 0). */
type Decision = { allow: true; identity: Identity; expiresAt: number } | { allow: false; status: 401 | 403; expiresAt: number };

const UNAVAILABLE = 'The authentication service is unavailable, try again later';

function deny(status: 401 | 403): never {
  if (status === 403) throw new ForbiddenError();
  throw new UnauthorizedError('Unauthorized', { 'www-authenticate': 'Bearer error="invalid_token"' });
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
  create(config, env) {
    const client = new AuthClient({
      url: config.auth_service_url,
      method: config.method,
      timeoutMs: config.auth_service_timeout,
      retries: config.retry_count,
      sslVerify: config.ssl_verify,
    });
    const breaker = new CircuitBreaker(config.circuit_breaker.failure_threshold, config.circuit_breaker.reset_timeout);
    const ttl = config.cache_ttl;
    const decisions = ttl > 0 ? new VerifiedTokenCache<Decision>() : null;

    const unavailable = (nowMs: number, cause?: unknown) =>
      new ServiceUnavailableError(UNAVAILABLE, 'TG_DEPENDENCY_DOWN', cause, { 'retry-after': String(Math.max(1, breaker.retryAfterSeconds(nowMs))) });

    async function ask(ctx: RequestContext, authorization: string, cacheKey: string | null): Promise<Identity> {
      let answer;
      try {
        answer = await client.call(ctx, authorization);
      } catch (err) {
        breaker.failed(Date.now());
        env.logger.warn({ err: (err as Error).message, request_id: ctx.id, breaker: breaker.state }, 'auth service call failed');
        throw unavailable(Date.now(), err);
      }
      const { status } = answer;
      if (status === 401 || status === 403) {
        breaker.succeeded();
        if (cacheKey !== null) decisions!.set(cacheKey, { allow: false, status, expiresAt: Date.now() + ttl });
        deny(status);
      }
      if (status < 200 || status >= 300) {
        breaker.failed(Date.now());
        env.logger.warn({ status, request_id: ctx.id }, 'auth service gave an unexpected status');
        throw unavailable(Date.now());
      }
      breaker.succeeded();
      const identity = identityFromAnswer(answer.body);
      if (cacheKey !== null) decisions!.set(cacheKey, { allow: true, identity, expiresAt: Date.now() + ttl });
      return copyIdentity(identity);
    }

    return {
      authenticate(ctx) {
        const authorization = ctx.req.headers.authorization;
        if (authorization === undefined || authorization === '') return null;
        const now = Date.now();
        let cacheKey: string | null = null;
        if (decisions !== null) {
          cacheKey = createHash('sha256').update(`${ctx.method} ${ctx.path}\n${authorization}`).digest('base64url');
          const hit = decisions.get(cacheKey, now);
          if (hit !== undefined) return hit.allow ? copyIdentity(hit.identity) : deny(hit.status);
        }
        if (!breaker.allow(now)) throw unavailable(now);
        return ask(ctx, authorization, cacheKey);
      },
      entitiesChanged() {
        decisions?.clear();
      },
      close() {
        return client.close();
      },
    };
  },
});
