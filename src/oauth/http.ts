import type { RequestContext } from '../core/context.js';
import type { EndpointResponse } from '../core/plugin.js';
import { OAuthError } from './errors.js';

/** Request parameters and response shapes of the OAuth endpoints. */

/**
 * The parameters of a request: the query for GET, the form (or, as Kong accepts, JSON) body
 * for POST. A parameter sent twice is an error (RFC 6749 §3.1).
 */
export class Params {
  private constructor(private readonly values: Map<string, string>) {}

  static of(ctx: RequestContext, body: Buffer | null): Params {
    if (ctx.method === 'GET' || ctx.method === 'HEAD') return Params.fromSearch(new URLSearchParams(ctx.query));
    const type = String(ctx.req.headers['content-type'] ?? '').toLowerCase();
    const text = body?.toString('utf8') ?? '';
    if (type.startsWith('application/json')) return Params.fromJson(text);
    if (text !== '' && !type.startsWith('application/x-www-form-urlencoded')) {
      throw new OAuthError('invalid_request', 'send parameters as application/x-www-form-urlencoded');
    }
    return Params.fromSearch(new URLSearchParams(text));
  }

  private static fromSearch(search: URLSearchParams): Params {
    const values = new Map<string, string>();
    for (const [k, v] of search) {
      if (values.has(k)) throw new OAuthError('invalid_request', `parameter '${k}' is repeated`);
      values.set(k, v);
    }
    return new Params(values);
  }

  private static fromJson(text: string): Params {
    let parsed: unknown;
    try {
      parsed = text === '' ? {} : JSON.parse(text);
    } catch {
      throw new OAuthError('invalid_request', 'the body is not valid JSON');
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new OAuthError('invalid_request', 'the body must be a JSON object');
    const values = new Map<string, string>();
    for (const [k, v] of Object.entries(parsed)) {
      if (typeof v === 'string') values.set(k, v);
      else if (typeof v === 'number' || typeof v === 'boolean') values.set(k, String(v));
      else throw new OAuthError('invalid_request', `parameter '${k}' must be a string`);
    }
    return new Params(values);
  }

  /** The value, or null when absent or empty (RFC 6749 §3.1: empty = omitted). */
  get(name: string): string | null {
    const v = this.values.get(name);
    return v === undefined || v === '' ? null : v;
  }

  require(name: string): string {
    const v = this.get(name);
    if (v === null) throw new OAuthError('invalid_request', `missing parameter '${name}'`);
    return v;
  }
}

/** Token, revocation and introspection answers are never cached (RFC 6749 §5.1). */
export const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' } as const;

export function json(status: number, body: unknown, headers: Record<string, string> = {}): EndpointResponse {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers }, body: JSON.stringify(body) };
}

/** Records the refusal for the audit record's `error` (never secrets: descriptions are fixed texts). */
export function noteError(ctx: RequestContext, err: OAuthError): OAuthError {
  ctx.error = `${err.error}: ${err.description}`;
  return err;
}

/** The RFC 6749 §5.2 error answer. */
export function oauthErrorResponse(ctx: RequestContext, err: OAuthError): EndpointResponse {
  noteError(ctx, err);
  return json(err.status, err.body(), { ...NO_STORE, ...err.headers });
}

export function redirect(location: string, headers: Record<string, string> = {}): EndpointResponse {
  return { status: 302, headers: { location, 'cache-control': 'no-store', ...headers } };
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The 400 page of the browser flow when it must not redirect (unknown client, bad redirect URI). */
export function errorPage(status: number, title: string, message: string): EndpointResponse {
  const body = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p></body></html>
`;
  return {
    status,
    headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'content-security-policy': "default-src 'none'" },
    body,
  };
}

/** `redirect_uri` with the response parameters added to its query (RFC 6749 §4.1.2, RFC 9207 `iss`). */
export function withParams(redirectUri: string, params: Record<string, string | null>): string {
  const url = new URL(redirectUri);
  for (const [k, v] of Object.entries(params)) if (v !== null) url.searchParams.append(k, v);
  return url.toString();
}
