import type { PluginConfigIssue } from '../../core/plugin.js';
import type { ConfigParts } from '../../config/parts.js';

/**
 * `policy: redis` without `gateway.redis` would silently count per process (N replicas, N ×
 * the limit): refused at validation, as Kong refuses a redis policy without a Redis.
 */
export function checkPolicy(policy: 'local' | 'redis' | undefined, root: ConfigParts): PluginConfigIssue[] {
  // An INVALID gateway.redis is set, but is no Redis URL: its own problem says so.
  if (policy !== 'redis' || root.gateway.redis !== undefined) return [];
  return [{ path: ['policy'], message: 'policy "redis" needs gateway.redis (set it, or use policy "local")' }];
}
