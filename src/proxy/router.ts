import type { IncomingHttpHeaders } from 'node:http';
import type { RouteConfig } from '../config/schema.js';
import { normalizePath } from './normalizePath.js';

/**
 * Route matching with Kong's precedence (traditional_compatible router):
 *   1. more kinds of criteria first (paths, hosts, methods, headers each count one);
 *   2. plain hosts before wildcard hosts; more header conditions first;
 *   3. regex paths before prefix paths; regex by `regex_priority`, prefixes longest first;
 *   4. config order.
 * Each (route, path) pair is one candidate, so a route's long prefix outranks another route's
 * short one. Prefix matching is plain string prefix, as Kong's.
 */

export interface RouteMatch<R> {
  route: R;
  /** Length of the matched path prefix (for strip_path); 0 when the route has no paths. */
  matchedLength: number;
}

interface Candidate<R> {
  route: R;
  order: number;
  prefix: string | null;
  regex: RegExp | null;
  methods: ReadonlySet<string> | null;
  hosts: HostMatcher[] | null;
  headers: [string, string[]][] | null;
  weight: number;
  plainHosts: boolean;
  regexPriority: number;
}

interface HostMatcher {
  exact: string | null;
  suffix: string | null; // *.example.com → .example.com
  prefix: string | null; // example.* → example.
  /** `api.example.com:8443`: the Host header must carry this port (as Kong); null = any. */
  port: string | null;
}

function hostMatcher(pattern: string): HostMatcher {
  let p = pattern.toLowerCase();
  let port: string | null = null;
  const m = /:(\d+)$/.exec(p);
  if (m !== null && !p.endsWith(']')) {
    port = m[1]!;
    p = p.slice(0, m.index);
  }
  if (p.endsWith('.') && !p.endsWith('.*.')) p = p.slice(0, -1); // `api.example.com.` (absolute form) is `api.example.com`, as a Host is
  if (p.startsWith('*.')) return { exact: null, suffix: p.slice(1), prefix: null, port };
  if (p.endsWith('.*')) return { exact: null, suffix: null, prefix: p.slice(0, -1), port };
  return { exact: p, suffix: null, prefix: null, port };
}

/**
 * A Host header as routes match it: the name lower-cased without a trailing dot (DNS's
 * absolute form `internal.local.` is `internal.local`) and without its port, and the port
 * apart ('' when none; an empty port `api.example.com:` is no port, RFC 3986 §3.2.3).
 */
export function routingHost(hostHeader: string): { host: string; port: string } {
  const portAt = hostHeader.endsWith(']') ? -1 : hostHeader.lastIndexOf(':');
  const name = portAt < 0 ? hostHeader : hostHeader.slice(0, portAt);
  return { host: name.replace(/\.$/, '').toLowerCase(), port: portAt < 0 ? '' : hostHeader.slice(portAt + 1) };
}

export class Router<R extends { config: RouteConfig }> {
  private readonly candidates: Candidate<R>[];

  constructor(routes: readonly R[]) {
    const list: Candidate<R>[] = [];
    routes.forEach((route, order) => {
      const c = route.config;
      const headerEntries = Object.entries(c.headers).map(
        ([k, v]) => [k.toLowerCase(), (Array.isArray(v) ? v : [v]).map((x) => x.toLowerCase())] as [string, string[]],
      );
      const base = {
        route,
        order,
        methods: c.methods.length ? new Set(c.methods) : null,
        hosts: c.hosts.length ? c.hosts.map(hostMatcher) : null,
        headers: headerEntries.length ? headerEntries : null,
        weight: [c.paths.length, c.hosts.length, c.methods.length, headerEntries.length].filter((n) => n > 0).length,
        plainHosts: c.hosts.length > 0 && c.hosts.every((h) => !h.includes('*')),
        regexPriority: c.regex_priority,
      };
      if (c.paths.length === 0) list.push({ ...base, prefix: null, regex: null });
      for (const path of c.paths) {
        if (path.startsWith('~')) list.push({ ...base, prefix: null, regex: new RegExp(`^(?:${path.slice(1)})`) });
        // Request paths are normalised before matching (normalizePath): so is a prefix, or
        // `/docs//secret` and `/%7Euser` would never match and their requests would fall
        // through to another route.
        else list.push({ ...base, prefix: normalizePath(path) ?? path, regex: null });
      }
    });
    list.sort(compareCandidates);
    this.candidates = list;
  }

  /** The best route for a request, or null. `host` is the Host header without port; `port` its port ('' when none). */
  match(method: string, path: string, host: string, headers: IncomingHttpHeaders, port = ''): RouteMatch<R> | null {
    for (const c of this.candidates) {
      if (c.methods !== null && !c.methods.has(method)) continue;
      if (c.hosts !== null && !matchHost(c.hosts, host, port)) continue;
      if (c.headers !== null && !matchHeaders(c.headers, headers)) continue;
      if (c.prefix !== null) {
        if (!path.startsWith(c.prefix)) continue;
        return { route: c.route, matchedLength: c.prefix.length };
      }
      if (c.regex !== null) {
        const m = c.regex.exec(path);
        if (m === null) continue;
        return { route: c.route, matchedLength: m[0].length };
      }
      return { route: c.route, matchedLength: 0 };
    }
    return null;
  }
}

function compareCandidates<R>(a: Candidate<R>, b: Candidate<R>): number {
  if (a.weight !== b.weight) return b.weight - a.weight;
  if (a.plainHosts !== b.plainHosts) return a.plainHosts ? -1 : 1;
  const ha = a.headers?.length ?? 0;
  const hb = b.headers?.length ?? 0;
  if (ha !== hb) return hb - ha;
  const ra = a.regex !== null;
  const rb = b.regex !== null;
  if (ra !== rb) return ra ? -1 : 1;
  if (ra && rb && a.regexPriority !== b.regexPriority) return b.regexPriority - a.regexPriority;
  const la = a.prefix?.length ?? 0;
  const lb = b.prefix?.length ?? 0;
  if (la !== lb) return lb - la;
  return a.order - b.order;
}

function matchHost(hosts: HostMatcher[], host: string, port: string): boolean {
  for (const h of hosts) {
    if (h.port !== null && h.port !== port) continue;
    if (h.exact !== null ? host === h.exact : h.suffix !== null ? host.endsWith(h.suffix) : host.startsWith(h.prefix!)) return true;
  }
  return false;
}

function matchHeaders(conds: [string, string[]][], headers: IncomingHttpHeaders): boolean {
  for (const [name, values] of conds) {
    const v = headers[name];
    if (v === undefined) return false;
    const got = (Array.isArray(v) ? v : [v]).map((x) => x.toLowerCase());
    if (!values.some((want) => got.includes(want))) return false;
  }
  return true;
}

/** Joins the service base path and the (possibly stripped) request path, as Kong does. */
export function upstreamPath(basePath: string, requestPath: string, stripLength: number, query: string): string {
  let rest = stripLength > 0 ? requestPath.slice(stripLength) : requestPath;
  if (rest !== '' && !rest.startsWith('/')) rest = `/${rest}`;
  let out: string;
  if (basePath === '' || basePath === '/') out = rest === '' ? '/' : rest;
  else if (rest === '' || rest === '/') out = rest === '/' && !basePath.endsWith('/') ? `${basePath}/` : basePath;
  else out = basePath.endsWith('/') ? basePath + rest.slice(1) : basePath + rest;
  return out + query;
}
