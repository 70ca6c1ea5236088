import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Identity, RequestContext } from '../core/context.js';
import { UnauthorizedError } from '../core/errors.js';

/** RFC 9110 §7.6.1 hop-by-hop headers, plus the non-standard ones proxies also drop. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Identity headers tollgate sets upstream (SPEC §5). Client-sent copies are always removed,
 * on public routes too, so an upstream can trust them.
 */
export const IDENTITY_HEADERS = [
  'x-user-id',
  'x-client-id',
  'x-username',
  'x-enterprise-id',
  'x-roles',
  'x-workspace-id',
  'x-consumer-id',
  'x-consumer-username',
  'x-consumer-custom-id',
  'x-credential-identifier',
  'x-credential-username',
  'x-authenticated-userid',
  'x-authenticated-scope',
  'x-anonymous-consumer',
] as const;

/**
 * Client-sent headers an upstream may trust as the gateway's word though tollgate never sets
 * them: the names Kong's plugins set (ACL groups, OIDC userinfo, the forwarded path), the
 * path overrides IIS and Symfony honour and the method overrides Express, Laravel, Symfony and
 * ASP.NET honour (a client would pick the path or method after the gateway authorised
 * another), the user headers of auth proxies (oauth2-proxy, Apache's REMOTE_USER), and the
 * client-address headers IP-detection libraries read before X-Forwarded-For (tollgate's
 * X-Real-IP and X-Forwarded-For are the client address).
 */
const SPOOFABLE = [
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  'x-forwarded-method',
  'x-forwarded-user',
  'x-forwarded-email',
  'x-forwarded-preferred-username',
  'x-forwarded-groups',
  'x-auth-request-user',
  'x-auth-request-email',
  'x-auth-request-preferred-username',
  'x-auth-request-groups',
  'x-remote-user',
  'remote-user',
  'x-consumer-groups',
  'x-authenticated-groups',
  'x-anonymous-groups',
  'x-userinfo',
  'x-forwarded-path',
  'x-forwarded-uri',
  'x-forwarded-scheme',
  'x-forwarded-ssl',
  'x-forwarded-server',
  'x-original-url',
  'x-rewrite-url',
  'x-original-uri',
  'true-client-ip',
  'x-client-ip',
  'x-cluster-client-ip',
  'cf-connecting-ip',
  'fastly-client-ip',
];

/**
 * Never forwarded upstream: hop-by-hop, identity and forwarding headers (tollgate sets its
 * own), the SPOOFABLE ones, Host (set per service), and Expect: `100-continue` is answered by
 * tollgate itself (RFC 9110 §10.1.1), and undici refuses to send it.
 */
const STRIPPED_UPSTREAM = new Set<string>([
  ...HOP_BY_HOP,
  ...IDENTITY_HEADERS,
  ...SPOOFABLE,
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-real-ip',
  'x-request-id',
  'forwarded',
  'host',
  'expect',
]);

/**
 * `X_User_ID` is `X-User-ID` to a CGI, WSGI, Rack or PHP upstream (both become HTTP_X_USER_ID):
 * a name with underscores is dropped when its dashed spelling is one tollgate strips.
 */
function strippedUnderscored(name: string): boolean {
  return name.includes('_') && STRIPPED_UPSTREAM.has(name.replaceAll('_', '-'));
}

const NONE: string[] = [];

/** Names listed in a Connection header are hop-by-hop for this message too. */
function connectionTokens(value: string | string[] | undefined): string[] {
  if (value === undefined || value === 'keep-alive' || value === 'close') return NONE;
  return (Array.isArray(value) ? value.join(',') : value)
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== '' && t !== 'close' && t !== 'keep-alive');
}

export interface ForwardedFacts {
  clientIp: string;
  peerIp: string;
  peerTrusted: boolean;
  proto: 'http' | 'https';
  port: number;
  host: string;
  requestId: string;
}

/**
 * Builds the upstream request headers: hop-by-hop and spoofable identity headers removed,
 * X-Forwarded-* and X-Request-ID set. X-Forwarded-For keeps the client's chain only when the
 * peer is a trusted proxy; otherwise it is the peer alone.
 */
export function upstreamRequestHeaders(incoming: IncomingHttpHeaders, f: ForwardedFacts): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const extra = connectionTokens(incoming.connection);
  for (const name in incoming) {
    if (STRIPPED_UPSTREAM.has(name) || strippedUnderscored(name)) continue;
    const v = incoming[name];
    if (v === undefined) continue;
    if (extra.length > 0 && extra.includes(name)) continue;
    out[name] = v;
  }
  const xff = incoming['x-forwarded-for'];
  const chain = f.peerTrusted && xff !== undefined ? `${Array.isArray(xff) ? xff.join(', ') : xff}, ${f.peerIp}` : f.peerIp;
  out['x-forwarded-for'] = chain;
  out['x-forwarded-proto'] = (f.peerTrusted && first(incoming['x-forwarded-proto'])) || f.proto;
  const forwardedHost = (f.peerTrusted && first(incoming['x-forwarded-host'])) || f.host;
  if (forwardedHost !== '') out['x-forwarded-host'] = forwardedHost; // an HTTP/1.0 request may name no host
  out['x-forwarded-port'] = (f.peerTrusted && first(incoming['x-forwarded-port'])) || String(f.port);
  out['x-real-ip'] = f.clientIp;
  out['x-request-id'] = f.requestId;
  return out;
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * RFC 9112 §3.2: a valid Host value, host[:port] (RFC 3986 §3.2.2; a comma is refused too:
 * repeated Host lines are joined with `, `, see joinDuplicateHeaders in gateway.ts).
 */
export const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+;=]+)(?::\d{0,5})?$/;

/** The first entry of a forwarding header a proxy may have appended to (`https, http`). */
function firstEntry(v: string | string[] | undefined): string | undefined {
  const s = first(v);
  if (s === undefined) return undefined;
  const comma = s.indexOf(',');
  const entry = (comma < 0 ? s : s.slice(0, comma)).trim();
  return entry === '' ? undefined : entry;
}

/**
 * The origin the client addressed (`https://api.example.com`), as the upstream is told it in
 * X-Forwarded-Proto/Host/Port (upstreamRequestHeaders): those headers count only from a
 * trusted proxy (`peerTrusted`, gateway.trusted_proxies), else the connection (TLS or not) and
 * the Host header, already checked by the request handler. For answers that name the
 * gateway's own URLs (RFC 9728 metadata); not on the hot path.
 */
export function clientOrigin(req: IncomingMessage, tls: boolean, peerTrusted: boolean): string {
  const h = req.headers;
  const xfp = peerTrusted ? firstEntry(h['x-forwarded-proto'])?.toLowerCase() : undefined;
  const proto = xfp === 'https' || xfp === 'http' ? xfp : tls ? 'https' : 'http';
  const xfh = peerTrusted ? firstEntry(h['x-forwarded-host']) : undefined;
  let host = xfh !== undefined && HOST.test(xfh) ? xfh : h.host;
  if (host === undefined || host === '') {
    // HTTP/1.0 without Host: the address the connection reached.
    const local = req.socket.localAddress ?? '127.0.0.1';
    host = `${local.includes(':') ? `[${local}]` : local}:${req.socket.localPort ?? 0}`;
  }
  const xfport = peerTrusted ? firstEntry(h['x-forwarded-port']) : undefined;
  if (xfport !== undefined && /^\d{1,5}$/.test(xfport) && !/:\d*$/.test(host) && xfport !== (proto === 'https' ? '443' : '80')) host = `${host}:${xfport}`;
  return `${proto}://${host.toLowerCase()}`;
}

/** After the access phases: the identity headers (SPEC §5) and the resolved workspace, upstream. */
export function applyIdentity(ctx: RequestContext): void {
  if (ctx.identity !== null) setIdentityHeaders(ctx.upstreamHeaders, ctx.identity);
  if (ctx.workspaceId !== null) ctx.upstreamHeaders['x-workspace-id'] = ctx.workspaceId;
}

/** Printable ASCII, the usual identity value: sent as is. */
const PLAIN_VALUE = /^[\x20-\x7e]*$/;
/** What a header value cannot hold (RFC 9110 §5.5): controls other than HTAB. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;
/** Methods whose credential is a bearer token: a refusal is RFC 6750's `invalid_token`. */
const BEARER_METHODS = new Set(['jwt', 'custom-jwt-auth', 'oauth2']);
const UNSENDABLE = "The credential's identity cannot be passed upstream: it contains control characters";

/**
 * An identity value as a header value: printable ASCII as is; other text as its UTF-8 bytes (as
 * Kong sends it: an upstream reads the header's bytes as UTF-8, or decodes Node's latin1 string
 * with `Buffer.from(v, 'latin1').toString('utf8')`). A control character (CR, LF, …; HTAB is
 * allowed) cannot be sent: the credential is refused (401, `invalid_token` for a bearer token)
 * rather than its identity altered.
 */
export function identityValue(v: string, method: string): string {
  if (PLAIN_VALUE.test(v)) return v;
  if (CONTROL.test(v)) {
    const challenge = BEARER_METHODS.has(method) ? { 'www-authenticate': `Bearer error="invalid_token", error_description="${UNSENDABLE}"` } : undefined;
    throw new UnauthorizedError(UNSENDABLE, challenge);
  }
  return Buffer.from(v, 'utf8').toString('latin1');
}

/** Sets the identity headers of SPEC §5 from the accepted credential. */
export function setIdentityHeaders(h: Record<string, string | string[]>, id: Identity): void {
  const m = id.method;
  if (id.userId !== null) h['x-user-id'] = identityValue(id.userId, m);
  if (id.clientId !== null) h['x-client-id'] = identityValue(id.clientId, m);
  if (id.username !== null) h['x-username'] = identityValue(id.username, m);
  if (id.enterpriseId !== null) h['x-enterprise-id'] = identityValue(id.enterpriseId, m);
  h['x-roles'] = identityValue(JSON.stringify(id.roles), m);
  if (id.consumerId !== null) h['x-consumer-id'] = identityValue(id.consumerId, m);
  if (id.consumerUsername !== null) h['x-consumer-username'] = identityValue(id.consumerUsername, m);
  if (id.consumerCustomId !== null) h['x-consumer-custom-id'] = identityValue(id.consumerCustomId, m);
  if (id.credentialId !== null) h['x-credential-identifier'] = identityValue(id.credentialId, m);
  if (id.authenticatedUserid !== null) h['x-authenticated-userid'] = identityValue(id.authenticatedUserid, m);
  if (id.scopes.length > 0) h['x-authenticated-scope'] = identityValue(id.scopes.join(' '), m);
}

/**
 * The headers of an upstream's 101 for the client: those named in its `Connection` header are
 * hop-by-hop (RFC 9110 §7.6.1) and dropped (`Connection` then says `Upgrade` alone); `Upgrade`
 * is the switch itself and stays.
 */
export function switchingProtocolsHeaders(upstream: Record<string, string | string[]>): Record<string, string | string[]> {
  const extra = connectionTokens(upstream.connection).filter((t) => t !== 'upgrade');
  if (extra.length === 0) return upstream;
  const out: Record<string, string | string[]> = {};
  for (const name in upstream) if (!extra.includes(name)) out[name] = upstream[name]!;
  out.connection = 'Upgrade';
  return out;
}

/**
 * The head the client gets for an upstream response: its headers without the hop-by-hop ones,
 * then what the plugins' response-headers phase added, then X-Request-ID.
 */
export function clientResponseHeaders(ctx: RequestContext, upstream: Record<string, string | string[]>): OutgoingHttpHeaders {
  const out = downstreamResponseHeaders(upstream);
  const extra = ctx.responseHeaders;
  for (const k in extra) out[k] = extra[k];
  out['x-request-id'] = ctx.id;
  return out;
}

/** Client response headers from an upstream response: hop-by-hop removed. */
export function downstreamResponseHeaders(upstream: Record<string, string | string[]>): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const extra = connectionTokens(upstream.connection);
  for (const name in upstream) {
    if (HOP_BY_HOP.has(name) || (extra.length > 0 && extra.includes(name))) continue;
    out[name] = upstream[name];
  }
  return out;
}
