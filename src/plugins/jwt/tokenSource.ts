import type { IncomingHttpHeaders } from 'node:http';
import { memoOnConnection } from '../../core/connectionMemo.js';
import { invalidToken } from './parse.js';

/** Where the `jwt` plugin looks for a token (Kong's `header_names`, `cookie_names`, `uri_param_names`). */
export interface TokenPlaces {
  headerNames: readonly string[];
  cookieNames: readonly string[];
  uriParamNames: readonly string[];
}

const BEARER = /^\s*bearer\s+(\S+)\s*$/i;

const LAST_BEARER = Symbol('tollgate.lastBearer');

/**
 * The token of a `Bearer <token>` header value, or null. With `connection` (the client socket),
 * the last value it sent and its token are remembered on it: a keep-alive client repeating its
 * header is recognised by string equality instead of a regular-expression scan of the whole
 * token, and gets the very same token string back, so VerifiedTokenCache.keyOf's own
 * per-connection memo matches by identity. The value is held by its own connection only.
 */
export function bearerToken(value: string | string[] | undefined, connection?: object): string | null {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return null;
  return connection === undefined ? parseBearer(v) : memoOnConnection(connection, LAST_BEARER, v, parseBearer);
}

/** A header that says Bearer and holds something, but not one token: joined values, a space inside. */
const BEARER_SOMETHING = /^\s*bearer\s+\S/i;

function parseBearer(v: string): string | null {
  const m = BEARER.exec(v);
  if (m) return m[1]!;
  // A token was sent but cannot be read: the client is told so (SPEC §4 error="invalid_token"),
  // not answered as if it had sent none.
  if (BEARER_SOMETHING.test(v)) throw invalidToken('Bad token; the Authorization header must hold one Bearer token');
  return null;
}

function cookieValue(header: string, name: string): string | null {
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      const v = part.slice(eq + 1).trim();
      return v === '' ? null : v;
    }
  }
  return null;
}

/** Adds one more found token; two different ones are refused rather than guessed between. */
function merge(found: string | null, token: string | null): string | null {
  if (token === null) return found;
  if (found !== null && found !== token) throw invalidToken('Multiple tokens provided');
  return token;
}

/**
 * The one token the request carries, or null. Several different tokens (say one in a cookie,
 * another in the header) are refused, as Kong does. `connection`: see bearerToken.
 */
export function findToken(headers: IncomingHttpHeaders, query: string, places: TokenPlaces, connection?: object): string | null {
  let found: string | null = null;
  if (places.uriParamNames.length > 0 && query.length > 1) {
    const params = new URLSearchParams(query.slice(1));
    for (const name of places.uriParamNames) found = merge(found, params.get(name) || null);
  }
  const cookie = headers.cookie;
  if (places.cookieNames.length > 0 && cookie !== undefined) {
    for (const name of places.cookieNames) found = merge(found, cookieValue(cookie, name));
  }
  for (const name of places.headerNames) found = merge(found, bearerToken(headers[name], connection));
  return found;
}
