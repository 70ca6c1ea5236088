import type { OAuth2Config } from '../plugins/oauth2/schema.js';
import { OAuthError } from './errors.js';

/** Scope parameters (RFC 6749 §3.3): space-delimited, case-sensitive tokens. */

const TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** The tokens of a `scope` parameter, deduplicated, in order; invalid_scope for bad characters. */
export function parseScope(value: string | null): string[] {
  if (value === null) return [];
  const tokens = value.split(' ').filter((t) => t !== '');
  for (const t of tokens) if (!TOKEN.test(t)) throw new OAuthError('invalid_scope', 'a scope is one token of printable characters without quotes or backslashes');
  return [...new Set(tokens)];
}

/**
 * A requested scope checked against the plugin's `scopes` and `mandatory_scope`. As in Kong,
 * only listed scopes are granted: with none listed, no scope can be asked for (else any client
 * could give itself whatever scope a route's access-control requires).
 */
export function grantableScope(requested: string[], settings: OAuth2Config): string[] {
  if (requested.length === 0 && settings.mandatory_scope) throw new OAuthError('invalid_scope', 'a scope is required (mandatory_scope)');
  const unknown = requested.filter((s) => !settings.scopes.includes(s));
  if (unknown.length > 0) {
    throw new OAuthError('invalid_scope', settings.scopes.length === 0 ? `no scope can be granted here (asked for: ${unknown.join(' ')})` : `unknown scope: ${unknown.join(' ')}`);
  }
  return requested;
}
