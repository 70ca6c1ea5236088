import type { Logger } from 'pino';
import type { RequestContext } from '../core/context.js';
import type { OAuth2Config } from '../plugins/oauth2/schema.js';
import { ClientIpResolver, normalizeIp } from '../proxy/clientIp.js';
import type { Store } from '../store/types.js';
import { OAuthError } from './errors.js';
import type { OAuthShared } from './shared.js';
import type { SigningKeys } from './signingKeys.js';

/**
 * Everything the OAuth endpoints share: the plugin's settings, the issuer, the signing keys,
 * the store and the process-wide revocation feed and client cache. Built once per oauth2
 * plugin entry (per loaded config).
 */
export interface AuthServer {
  settings: OAuth2Config;
  /** `gateway.issuer`, exactly as configured: the `iss` of every token and redirect. */
  issuer: string;
  /** The issuer without a trailing slash: endpoint URLs are `${base}/oauth2/token`, … */
  base: string;
  keys: SigningKeys;
  store: Store;
  shared: OAuthShared;
  logger: Logger;
  /** True when the issuer is https: the endpoints then refuse plain HTTP (see requireTls). */
  tlsRequired: boolean;
  trusted: ClientIpResolver;
}

export function buildAuthServer(parts: Omit<AuthServer, 'base' | 'tlsRequired' | 'trusted'> & { trustedProxies: readonly string[] }): AuthServer {
  const { trustedProxies, ...rest } = parts;
  return {
    ...rest,
    base: parts.issuer.replace(/\/+$/, ''),
    tlsRequired: parts.issuer.startsWith('https:'),
    trusted: new ClientIpResolver(trustedProxies),
  };
}

/**
 * OAuth 2.1 requires TLS: with an https issuer, a plain-HTTP request is refused unless
 * `accept_http_if_already_terminated` is set and a trusted proxy says `X-Forwarded-Proto: https`
 * (Kong's rule).
 */
export function requireTls(as: AuthServer, ctx: RequestContext): void {
  if (!as.tlsRequired || ctx.tls) return;
  const proto = ctx.req.headers['x-forwarded-proto'];
  const peer = normalizeIp(ctx.req.socket.remoteAddress ?? '');
  if (as.settings.accept_http_if_already_terminated && proto === 'https' && as.trusted.isTrusted(peer)) return;
  throw new OAuthError('invalid_request', 'HTTPS is required for the OAuth endpoints (the issuer is https)');
}
