import type { RequestContext } from '../core/context.js';
import { GatewayError, PayloadTooLargeError, RequestTimeoutError } from '../core/errors.js';
import type { EndpointResponse, PluginEndpoint } from '../core/plugin.js';
import type { Runtime } from '../core/runtime.js';
import type { CounterStore } from '../counters/types.js';
import { runAccessPhases } from '../core/pipeline.js';
import { allowBody, declaredLength, hasBody, readBody } from './requestBody.js';

/**
 * Plugin-served endpoints on the proxy listeners (the OAuth endpoints): the request handler
 * looks them up by exact, normalised path before route matching. Always public (no
 * authentication, no budget; global rate limits do apply: runtime.endpointChain); the caller's
 * context already has its request id, and the log phase runs through the global chain as for
 * any request without a route.
 */

const DEFAULT_MAX_BODY = 64 * 1024;

/** Reads the (small) body, calls the endpoint and writes its answer. Throws GatewayError. */
export async function serveEndpoint(ctx: RequestContext, rt: Runtime, ep: PluginEndpoint, counters: CounterStore, runResponseHeaders: () => void): Promise<void> {
  let body: Buffer | null;
  try {
    body = await admitted(ctx, rt, ep, counters);
  } catch (err) {
    // Refused before the endpoint ran: in its own error format when it has one.
    if (ep.refusal === undefined || !(err instanceof GatewayError) || err.status === 429) throw err;
    ctx.error = err.message;
    const answer = ep.refusal(err);
    write(ctx, { ...answer, headers: { ...err.headers, ...answer.headers } }, runResponseHeaders);
    return;
  }
  write(ctx, await ep.handle(ctx, body), runResponseHeaders);
}

/** The method checked, the global limits applied, the body read: what `handle` is given. */
async function admitted(ctx: RequestContext, rt: Runtime, ep: PluginEndpoint, counters: CounterStore): Promise<Buffer | null> {
  const method = ctx.method === 'HEAD' && ep.noHead !== true ? 'GET' : ctx.method;
  if (!ep.methods.includes(method)) {
    throw new GatewayError('TG_METHOD_NOT_ALLOWED', 405, `Method ${ctx.method} is not allowed on ${ep.path}`, { headers: { allow: ep.methods.join(', ') } });
  }
  // Global rate limits apply here too (public endpoints, so by IP in practice); 429 is thrown.
  if (rt.endpointChain.hasAccess) await runAccessPhases(rt.endpointChain, ctx, counters);
  const limit = Math.min(ep.maxBodyBytes ?? DEFAULT_MAX_BODY, rt.config.gateway.max_body_size);
  if (!hasBody(ctx.req)) return null;
  if (declaredLength(ctx.req) > limit) throw new PayloadTooLargeError();
  allowBody(ctx);
  // The whole body within headers_timeout, as the header block (SPEC §4's slowloris guard).
  const body = await readBody(ctx.req, limit, rt.config.gateway.headers_timeout, () => new RequestTimeoutError(), true);
  ctx.bytesIn = body.length;
  return body;
}

function write(ctx: RequestContext, answer: EndpointResponse, runResponseHeaders: () => void): void {
  const res = ctx.res;
  if (res.destroyed) return;
  runResponseHeaders();
  const payload = answer.body ?? '';
  const headers: Record<string, string | number> = { ...ctx.responseHeaders, ...answer.headers };
  headers['content-length'] = Buffer.byteLength(payload);
  headers['x-request-id'] = ctx.id;
  ctx.status = answer.status;
  ctx.bytesOut += Buffer.byteLength(payload);
  res.writeHead(answer.status, headers);
  res.end(ctx.method === 'HEAD' ? undefined : payload);
}
