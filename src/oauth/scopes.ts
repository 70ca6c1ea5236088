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

/** A requested scope checked against the plugin's `scopes` and `mandatory_scope`. */
export function grantableScope(requested: string[], settings: OAuth2Config): string[] {
  if (requested.length === 0 && settings.mandatory_scope) throw new OAuthError('invalid_scope', 'a scope is required (mandatory_scope)');
  if (settings.scopes.length > 0) {
    const unknown = requested.filter((s) => !settings.scopes.includes(s));
    if (unknown.length > 0) throw new OAuthError('invalid_scope', `unknown scope: ${unknown.join(' ')}`);
  }
  return requested;
}
