import { definePlugin } from '../../core/plugin.js';
import { ForbiddenError, UnauthorizedError } from '../../core/errors.js';
import { accessControlSchema, type AccessControlConfig } from './schema.js';

/**
 * `access-control` (SPEC §5): authorization after authentication. Every `required_scopes`
 * entry must be among the caller's scopes (403 with `WWW-Authenticate: Bearer
 * error="insufficient_scope"`); when `allowed_roles` is set, the caller needs one of them (403).
 */
export default definePlugin<AccessControlConfig>({
  name: 'access-control',
  version: '1.0.0',
  phase: 'authorization',
  schema: accessControlSchema,
  create(config) {
    const required = config.required_scopes;
    const roles = new Set(config.allowed_roles);
    const scopeHeader = `Bearer error="insufficient_scope", scope="${required.join(' ').replace(/["\\]/g, '')}"`;
    return {
      access(ctx) {
        const id = ctx.identity;
        // A route with access-control and no authentication plugin: nobody is known, nobody passes.
        if (id === null) throw new UnauthorizedError('Unauthorized');
        // A preflight the authentication plugin let through (jwt run_on_preflight: false).
        if (id.preflight === true) return;
        for (const scope of required) {
          if (!id.scopes.includes(scope)) throw new ForbiddenError('Insufficient scope', { 'www-authenticate': scopeHeader });
        }
        if (roles.size > 0 && !id.roles.some((r) => roles.has(r))) throw new ForbiddenError('You cannot consume this service');
      },
      // RFC 9728 `scopes_supported` of a protected route: what a client must ask for here.
      protectedResource: required.length > 0 ? { scopes: required } : undefined,
    };
  },
});
