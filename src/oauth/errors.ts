import { GatewayError, type HeaderMap } from '../core/errors.js';
import { StoreUnavailableError } from '../store/errors.js';

/**
 * OAuth protocol errors (RFC 6749 §4.1.2.1 and §5.2, RFC 7009, Kong's provision-key errors).
 * The endpoints answer them in the protocol's own shape, `{"error","error_description"}` or a
 * redirect carrying them, never the gateway's `{"message"}` body; `code` is what the audit
 * record and logs show. Every code is in docs/errors.md.
 */
export type OAuthErrorName =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'unsupported_response_type'
  | 'invalid_scope'
  | 'access_denied'
  | 'server_error'
  | 'temporarily_unavailable'
  | 'unsupported_token_type'
  | 'invalid_provision_key'
  | 'invalid_authenticated_userid';

const CODES: Record<OAuthErrorName, string> = {
  invalid_request: 'TG_OAUTH_INVALID_REQUEST',
  invalid_client: 'TG_OAUTH_INVALID_CLIENT',
  invalid_grant: 'TG_OAUTH_INVALID_GRANT',
  unauthorized_client: 'TG_OAUTH_UNAUTHORIZED_CLIENT',
  unsupported_grant_type: 'TG_OAUTH_UNSUPPORTED_GRANT_TYPE',
  unsupported_response_type: 'TG_OAUTH_UNSUPPORTED_RESPONSE_TYPE',
  invalid_scope: 'TG_OAUTH_INVALID_SCOPE',
  access_denied: 'TG_OAUTH_ACCESS_DENIED',
  server_error: 'TG_OAUTH_SERVER_ERROR',
  temporarily_unavailable: 'TG_OAUTH_TEMPORARILY_UNAVAILABLE',
  unsupported_token_type: 'TG_OAUTH_UNSUPPORTED_TOKEN_TYPE',
  invalid_provision_key: 'TG_OAUTH_INVALID_PROVISION_KEY',
  invalid_authenticated_userid: 'TG_OAUTH_INVALID_AUTHENTICATED_USERID',
};

const STATUS: Partial<Record<OAuthErrorName, number>> = {
  invalid_client: 401,
  server_error: 500,
  temporarily_unavailable: 503,
};

export class OAuthError extends GatewayError {
  constructor(
    readonly error: OAuthErrorName,
    readonly description: string,
    opts: { status?: number; headers?: HeaderMap; cause?: unknown } = {},
  ) {
    super(CODES[error], opts.status ?? STATUS[error] ?? 400, description, { headers: opts.headers, cause: opts.cause, expose: error !== 'server_error' });
  }

  /**
   * The RFC 6749 §5.2 body. A server_error never carries its cause. The description may quote
   * what the client sent (`grant_type 'x' is not supported`); RFC 6749 allows only printable
   * ASCII without `"` and `\\` in it, so anything else becomes `?`.
   */
  body(): { error: OAuthErrorName; error_description: string } {
    return { error: this.error, error_description: this.expose ? describable(this.description) : 'An unexpected error occurred' };
  }
}

/**
 * A request whose client or redirect URI cannot be trusted: the authorization endpoint must
 * not redirect (RFC 6749 §4.1.2.1), so it answers 400 itself (an HTML page for browsers, JSON
 * for the provision-key flow).
 */
export class UnsafeRedirectError extends OAuthError {}

/** RFC 6749 §5.2: error_description = 1*( %x20-21 / %x23-5B / %x5D-7E ). */
function describable(text: string): string {
  return NOT_DESCRIBABLE.test(text) ? text.replace(NOT_DESCRIBABLE_ALL, '?') : text;
}
const NOT_DESCRIBABLE = /[^\x20\x21\x23-\x5b\x5d-\x7e]/;
const NOT_DESCRIBABLE_ALL = /[^\x20\x21\x23-\x5b\x5d-\x7e]/g;

/**
 * What an OAuth endpoint answers for `err` in the protocol's shape: the OAuthError itself, a
 * store outage as 503 `temporarily_unavailable` (an OAuth client library can read it; the
 * gateway's generic body it cannot), or null for anything else (a bug: the gateway's 500).
 */
export function asOAuthError(err: unknown): OAuthError | null {
  if (err instanceof OAuthError) return err;
  if (err instanceof StoreUnavailableError) return new OAuthError('temporarily_unavailable', 'the authorization server cannot reach its store; try again later', { cause: err });
  return null;
}
