import type { RequestContext } from '../../core/context.js';

/**
 * `X-Token-Budget-Limit/Used/Remaining` (SPEC §7, the seed's names), as known when the response
 * headers leave: `Used` is what the workspace had spent before this request (its own usage is
 * only known once the response has passed, and shows on the next one); `Remaining` is what is
 * left beside the reservations of the other requests in flight. A caller making one request at
 * a time therefore sees `Used + Remaining = Limit`.
 */
export function showBudget(ctx: RequestContext, limit: number, used: number, reservedByOthers: number): void {
  const out = ctx.responseHeaders;
  out['X-Token-Budget-Limit'] = String(limit);
  out['X-Token-Budget-Used'] = String(used);
  out['X-Token-Budget-Remaining'] = String(Math.max(0, limit - used - Math.max(0, reservedByOthers)));
}
