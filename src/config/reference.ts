import { z } from 'zod';
import { consumerEntry, gatewaySchema, workspaceEntry } from './schema.js';
import type { PluginRegistry } from '../core/registry.js';

/**
 * Renders docs/configuration.md from the zod schemas (the single source of keys, types,
 * defaults and descriptions). `npm run docs:config` writes it; a test keeps it current.
 */

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  description?: string;
  minimum?: number;
  maximum?: number;
  additionalProperties?: boolean | JsonSchema;
}

function typeOf(s: JsonSchema): string {
  if (s.enum) return s.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  if (s.const !== undefined) return `\`${String(s.const)}\``;
  const alts = s.anyOf ?? s.oneOf;
  if (alts) return [...new Set(alts.map(typeOf))].join(' \\| ');
  if (s.type === 'array') return `list of ${s.items ? typeOf(s.items) : 'any'}`;
  if (s.type === 'object' && !s.properties) return 'map';
  if (Array.isArray(s.type)) return s.type.join(' \\| ');
  return s.type ?? 'any';
}

function rows(s: JsonSchema, prefix: string, out: string[]): void {
  for (const [key, prop] of Object.entries(s.properties ?? {})) {
    const path = prefix ? `${prefix}.${key}` : key;
    const nested = prop.type === 'object' && prop.properties ? prop : prop.anyOf?.find((a) => a.properties);
    const def = prop.default === undefined ? '' : `\`${JSON.stringify(prop.default)}\``;
    out.push(`| \`${path}\` | ${typeOf(prop)} | ${def} | ${(prop.description ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ')} |`);
    if (nested) rows(nested, path, out);
    if (prop.type === 'array' && prop.items?.properties) rows(prop.items, `${path}[]`, out);
  }
}

function table(schema: z.ZodType): string {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const out = ['| key | type | default | description |', '|---|---|---|---|'];
  rows(json, '', out);
  return out.join('\n');
}

export function renderConfigReference(registry: PluginRegistry): string {
  const parts = [
    '# Configuration reference',
    '',
    '<!-- generated from the zod schemas by `npm run docs:config`; do not edit by hand -->',
    '',
    'One YAML or JSON file (`tollgate start --config FILE` or `TOLLGATE_CONFIG`). `${VAR}` and',
    '`${VAR:-default}` are replaced from the environment (`$${` for a literal `${`); an unquoted value that',
    'is exactly one reference is typed as YAML would type it (`minute: ${LIMIT:-100}` is a number;',
    'an empty value stays `\'\'`), a quoted one stays a string. A value from the environment is',
    'inserted as it is, never read for references itself. Unknown keys are errors, reported with their path. Durations in',
    '`gateway` are seconds (or `500ms`, `30s`, `2m`); service timeouts are milliseconds, as in Kong.',
    '',
    '`tollgate config validate`, `start` and a reload report every problem of a file in one run:',
    'unset variables first, then the problems of each field and entry, then the checks across the file (duplicate names, regexes,',
    'what a plugin needs elsewhere, such as `gateway.issuer` for `oauth2`), which also judge the parts',
    'that passed. A check that needs a broken part is skipped rather than reading it as absent, so no',
    'line only follows from another: an `issuer` that is not a URL is not also \'required\'. An unknown',
    'key may be a misspelt one, so the keys its mapping leaves unset (top level, `gateway`) are not',
    'judged either.',
    '',
    'Top level: `_format_version` (`"3.0"`), `gateway`, `services`, `plugins`, `consumers`, `workspaces`.',
    '',
    '## gateway',
    '',
    table(gatewaySchema),
    '',
    '## services, routes and plugin entries',
    '',
    'Service: `name`, `url` (or `protocol`/`host`/`port`/`path`), `connect_timeout`, `write_timeout`, `read_timeout`',
    '(ms, default 60000), `retries` (default 5; connection failures of idempotent requests only: refused, reset or timed-out connects and connections that break before any answer byte, as nginx does with `proxy_next_upstream error timeout`), `tls_verify`',
    '(default true), `plugins`, `routes`, `tags`. `write_timeout` bounds the pauses while a streamed request body',
    '(over 64 KiB, or chunked) moves to the upstream: no chunk for that long → 504. Smaller bodies go out in one',
    'write, so a stalled upstream meets `read_timeout` instead. `read_timeout` also bounds a client that stops',
    'reading its answer (nginx\'s `send_timeout`): no progress for that long cuts the client and the upstream exchange.',
    'It is a WebSocket tunnel\'s idle timeout as well (as nginx\'s `proxy_read_timeout`): no byte either way for that',
    'long closes both ends; a WebSocket ping from either side keeps a quiet tunnel open, or give the service a longer',
    '`read_timeout`.',
    '',
    'Route: `name` (default `<service>-<index>`), `paths` (prefix, or `~` + regex), `methods`, `hosts`',
    '(`*.example.com` and `example.*` wildcards; `api.example.com:8443` matches only a Host header',
    'with that port, as in Kong; other wildcard positions are refused at validation), `headers` (name → value or list), `protocols`',
    '(`[http, https]`; plain HTTP to an https-only route gets 426, unless a `trusted_proxies` peer',
    'says `X-Forwarded-Proto: https`: a load balancer that terminated TLS), `strip_path` (default true),',
    '`preserve_host` (default false), `regex_priority` (default 0), `plugins`, `tags`. Precedence is',
    "Kong's: see docs/architecture.md. Path prefixes match case-sensitively, as plain string prefixes",
    '(as in Kong: `/pub` matches `/pubx` too; end a prefix with `/` to match one segment only): with a public catch-all `/` beside a protected `/private`, `/PRIVATE` takes the',
    'catch-all. An upstream that matches paths without regard to case (Express by default, ASP.NET) would',
    'serve its protected handler there: protect the catch-all too, or give the route a regex path that',
    'matches every spelling (`~/[pP][rR][iI][vV][aA][tT][eE]`; JavaScript regexes have no inline `(?i)`).',
    'Prefix paths are normalised as request paths are (`/docs//secret` is `/docs/secret`, `/%7Euser` is',
    '`/~user`, escapes upper-cased), so a path written either way matches the same requests.',
    '',
    'Plugin entry (global `plugins:`, or a service’s or route’s `plugins:`): `name` (or `plugin`, as in',
    'KongPlugin), `instance_name`, `enabled` (default true; `false` on a service or route switches off the',
    'inherited entry of the same name and instance), `config`, `tags`.',
    '',
    '## consumers',
    '',
    table(consumerEntry),
    '',
    '## workspaces',
    '',
    table(workspaceEntry),
    '',
    '## plugins',
  ];
  for (const name of registry.names()) {
    const def = registry.get(name)!;
    parts.push('', `### \`${name}\``, '', `Phase: ${def.phase}, priority ${def.priority}. See \`src/plugins/${name}/README.md\`.`, '', table(def.schema));
  }
  return `${parts.join('\n')}\n`;
}
