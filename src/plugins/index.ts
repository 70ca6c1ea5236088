import { PluginRegistry } from '../core/registry.js';
import type { PluginDefinition } from '../core/plugin.js';
import jwt from './jwt/handler.js';
import customJwtAuth from './custom-jwt-auth/handler.js';
import accessControl from './access-control/handler.js';
import customAuthPreFunction from './custom-auth-pre-function/handler.js';
import rateLimiting from './rate-limiting/handler.js';
import tokenBudget from './token-budget/handler.js';
import prometheus from './prometheus/handler.js';
import auditLog from './audit-log/handler.js';
import oauth2 from './oauth2/handler.js';

/**
 * Every plugin this build ships, imported explicitly (no registry built from strings or
 * directory scans). A new plugin is a folder under src/plugins/ plus one line here and one in
 * src/core/priorities.ts.
 */
export const BUILTIN_PLUGINS: readonly PluginDefinition<unknown>[] = [jwt, customJwtAuth, oauth2, customAuthPreFunction, accessControl, rateLimiting, tokenBudget, prometheus, auditLog];

export function builtinRegistry(): PluginRegistry {
  return new PluginRegistry(BUILTIN_PLUGINS);
}
