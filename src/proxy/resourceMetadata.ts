import type { IncomingHttpHeaders } from 'node:http';
import type { RequestContext } from '../core/context.js';
import { GatewayError } from '../core/errors.js';
import type { PluginEndpoint, ProtectedResourceFacts } from '../core/plugin.js';
import type { PluginInstance } from '../core/pipeline.js';
import type { RouteConfig } from '../config/schema.js';
import { normalizeIp, type ClientIpResolver } from './clientIp.js';
import { clientOrigin } from './headers.js';
import { Router, routingHost } from './router.js';

/**
 * OAuth 2.0 Protected Resource Metadata (RFC 9728) for the routes that take bearer tokens:
 * how an MCP client (MCP authorization spec, 2025-06-18) finds the authorization server.
 *
 * A route is a protected resource when one of its authentication plugins declares
 * `protectedResource` (oauth2; jwt reading `Authorization`; custom-jwt-auth). For each plain
 * path of such a route the runtime serves, in its plugin-endpoint table (exact paths, before
 * route matching, so ordinary requests pay nothing new):
 *
 *   GET /.well-known/oauth-protected-resource<path>   (RFC 9728 §3.1 path insertion; `/` = no suffix)
 *
 * answering for the protected route a request to `<path>` on that host reaches (methods and
 * header conditions aside: discovery is a GET without the resource request's headers). Regex
 * paths have no well-known URL. The route's 401s carry `resource_metadata="<that URL>"` in
 * their `WWW-Authenticate: Bearer` (RFC 9728 §5.1), built only when a 401 is sent.
 *
 * URLs use the origin the client addressed (clientOrigin: X-Forwarded-* only from trusted
 * proxies), so `resource` matches the URL the client used, as RFC 9728 §3.3 and the MCP SDK
 * check.
 */

export const RESOURCE_METADATA_PATH = '/.well-known/oauth-protected-resource';

/** A protected route's metadata: its well-known paths (longest route prefix first) and its plugins' facts. */
export interface RouteResource {
  /** [route path prefix, well-known path]; a route with no paths has `['', RESOURCE_METADATA_PATH]`. */
  readonly metadataPaths: ReadonlyArray<readonly [string, string]>;
  readonly facts: readonly ProtectedResourceFacts[];
  readonly trusted: ClientIpResolver;
}

/** A compiled route, as far as the metadata is concerned. */
interface Protected {
  config: RouteConfig;
  name: string;
  resource: RouteResource;
}

/** The well-known path of a route path (RFC 9728 §3.1; a terminating slash is dropped). */
function wellKnownPath(prefix: string): string {
  const trimmed = prefix.replace(/\/+$/, '');
  return trimmed === '' ? RESOURCE_METADATA_PATH : `${RESOURCE_METADATA_PATH}${trimmed}`;
}

/**
 * A route's metadata, from its plugin instances (priority order, as the chain runs them):
 * null when no authentication plugin declares `protectedResource` (not a protected resource)
 * or the route has only regex paths. Facts of every phase count (access-control adds scopes).
 */
export function routeResource(config: RouteConfig, instances: readonly PluginInstance[], trusted: ClientIpResolver): RouteResource | null {
  if (!instances.some((p) => p.phase === 'authentication' && p.handler.protectedResource !== undefined)) return null;
  const prefixes = config.paths.length === 0 ? [''] : config.paths.filter((p) => !p.startsWith('~'));
  if (prefixes.length === 0) return null;
  const metadataPaths = prefixes.sort((a, b) => b.length - a.length).map((p) => [p, wellKnownPath(p)] as const);
  const facts = [...instances].sort((a, b) => b.priority - a.priority).flatMap((p) => (p.handler.protectedResource ? [p.handler.protectedResource] : []));
  return { metadataPaths, facts, trusted };
}

function originOf(ctx: RequestContext, trusted: ClientIpResolver): string {
  return clientOrigin(ctx.req, ctx.tls, trusted.isTrusted(normalizeIp(ctx.req.socket.remoteAddress ?? '')));
}

/**
 * Whether a request comes from an MCP client (Streamable HTTP or SSE transport: it accepts
 * `text/event-stream`, or names its protocol version or session). Only their 401s point to the
 * metadata: SPEC §4's `WWW-Authenticate: Bearer` stays exactly that for every other client,
 * and an MCP client that gets no pointer still finds the document at its well-known URL.
 */
export function fromMcpClient(headers: IncomingHttpHeaders): boolean {
  if (headers['mcp-protocol-version'] !== undefined || headers['mcp-session-id'] !== undefined) return true;
  const accept = headers.accept;
  return typeof accept === 'string' && accept.includes('text/event-stream');
}

/**
 * The `WWW-Authenticate` of a protected route's 401 with `resource_metadata` added (RFC 9728
 * §5.1); `error`/`error_description` are kept. A non-Bearer challenge is returned as is.
 */
export function withResourceMetadata(challenge: string, resource: RouteResource, ctx: RequestContext): string {
  if (challenge.length < 6 || challenge.slice(0, 6).toLowerCase() !== 'bearer') return challenge;
  const path = ctx.routedPath ?? ctx.path;
  const entry = resource.metadataPaths.find(([prefix]) => path.startsWith(prefix)) ?? resource.metadataPaths[0]!;
  const param = `resource_metadata="${originOf(ctx, resource.trusted)}${entry[1]}"`;
  return challenge.length === 6 ? `${challenge} ${param}` : `${challenge}, ${param}`;
}

/**
 * The metadata endpoints of one config: one per well-known path of its protected routes.
 * `routes` are in config order (Kong's tie-break).
 */
export function resourceMetadataEndpoints(routes: ReadonlyArray<{ config: RouteConfig; name: string; resource: RouteResource | null }>, trusted: ClientIpResolver): PluginEndpoint[] {
  const protectedRoutes = routes.filter((r): r is Protected => r.resource !== null);
  if (protectedRoutes.length === 0) return [];
  // Discovery matches by path and host only: methods and header conditions are dropped.
  const router = new Router(protectedRoutes.map((r) => ({ route: r, config: { ...r.config, methods: [], headers: {} } })));
  const byPath = new Map<string, string[]>();
  for (const r of protectedRoutes) {
    for (const [prefix, key] of r.resource.metadataPaths) {
      const lookup = prefix === '' ? '/' : prefix;
      const list = byPath.get(key) ?? [];
      if (!list.includes(lookup)) list.push(lookup);
      byPath.set(key, list);
    }
  }
  const endpoints: PluginEndpoint[] = [];
  for (const [path, prefixes] of byPath) {
    const resourcePath = path.slice(RESOURCE_METADATA_PATH.length);
    endpoints.push({
      path,
      methods: ['GET'],
      handle(ctx) {
        const { host, port } = routingHost(ctx.req.headers.host ?? '');
        let found: Protected | null = null;
        for (const prefix of prefixes) {
          found = router.match('GET', prefix, host, ctx.req.headers, port)?.route.route ?? null;
          if (found !== null) break;
        }
        if (found === null) {
          throw new GatewayError('TG_NO_PROTECTED_RESOURCE', 404, `No bearer-protected route serves ${resourcePath || '/'} on this host; metadata is published for routes with an oauth2, jwt or custom-jwt-auth plugin`);
        }
        const body = JSON.stringify(metadataDocument(`${originOf(ctx, trusted)}${resourcePath}`, found));
        return {
          status: 200,
          headers: {
            'content-type': 'application/json; charset=utf-8',
            'cache-control': 'public, max-age=300',
            // The document names the origin the client addressed, which a trusted proxy may set.
            vary: 'X-Forwarded-Proto, X-Forwarded-Host, X-Forwarded-Port',
            'access-control-allow-origin': '*',
          },
          body,
        };
      },
    });
  }
  return endpoints;
}

/** The RFC 9728 §2 document: only what is known is listed. */
function metadataDocument(resource: string, route: Protected): Record<string, unknown> {
  const servers = new Set<string>();
  const scopes = new Set<string>();
  for (const f of route.resource.facts) {
    for (const s of f.authorizationServers?.() ?? []) servers.add(s);
    for (const s of f.scopes ?? []) scopes.add(s);
  }
  const doc: Record<string, unknown> = { resource };
  if (servers.size > 0) doc.authorization_servers = [...servers];
  doc.bearer_methods_supported = ['header'];
  if (scopes.size > 0) doc.scopes_supported = [...scopes];
  doc.resource_name = route.name;
  return doc;
}
