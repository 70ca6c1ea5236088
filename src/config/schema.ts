import { z } from 'zod';
import { isIP } from 'node:net';
import { createSecureContext } from 'node:tls';
import { zSeconds, zSize } from './units.js';
import { describeIssue } from './issues.js';
import type { PluginRegistry } from '../core/registry.js';

/**
 * The config file schema (SPEC §3): the single source of config types, defaults and validation
 * messages. docs/configuration.md is generated from the `.describe()` texts here
 * (`npm run docs:config`). Unknown keys are errors everywhere (strict objects).
 */

const name = z
  .string()
  .min(1, 'must not be empty')
  .max(128)
  .regex(/^[A-Za-z0-9._~-]+$/, 'may contain only letters, digits, ".", "_", "~" and "-"');

const cidr = z.string().refine(
  (v) => {
    const [addr, bits, extra] = v.split('/');
    if (extra !== undefined || !addr || !isIP(addr)) return false;
    if (bits === undefined) return true;
    const max = isIP(addr) === 4 ? 32 : 128;
    return /^\d+$/.test(bits) && Number(bits) <= max;
  },
  { message: 'expected an IP address or CIDR block such as 10.0.0.0/8' },
);

const listen = z
  .string()
  .regex(/^(off|\d{1,5}|(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5})$/, 'expected host:port, a port, or "off"')
  .refine((v) => v === 'off' || Number(/(\d+)$/.exec(v)?.[1]) <= 65535, 'the port must be 0-65535')
  .describe('Listen address `host:port`, a bare port, or `off`.');

/** True when OpenSSL accepts the cipher list (`no cipher match` otherwise, at start). */
function ciphersLoad(ciphers: string): boolean {
  try {
    createSecureContext({ ciphers });
    return true;
  } catch {
    return false;
  }
}

export const tlsSchema = z
  .strictObject({
    cert: z.string().min(1).optional().describe('PEM certificate chain file (e.g. the cert-manager Secret, mounted). Reloaded when it changes.'),
    key: z.string().min(1).optional().describe('PEM private key file. Reloaded when it changes.'),
    min_version: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.3').describe('Oldest TLS version accepted; TLS 1.2 only for legacy clients.'),
    ciphers: z
      .string()
      .refine(ciphersLoad, 'OpenSSL matches no cipher in this list; see `openssl ciphers -v` for the names')
      .optional()
      .describe('OpenSSL cipher list: TLS 1.2 names (ECDHE-RSA-AES128-GCM-SHA256) and TLS 1.3 suites (TLS_AES_128_GCM_SHA256); naming TLS 1.3 suites limits TLS 1.3 to them. Default: OpenSSL\'s TLS 1.3 suites; with min_version TLSv1.2, Mozilla\'s intermediate list (ECDHE + AEAD only).'),
  })
  .superRefine((v, ctx) => {
    if ((v.cert === undefined) !== (v.key === undefined)) {
      ctx.addIssue({ code: 'custom', path: [v.cert === undefined ? 'cert' : 'key'], message: 'cert and key must be set together' });
    }
  });

export const signingKeySchema = z
  .strictObject({
    kid: z.string().min(1).describe('Key id put in the JWT header and the JWKS.'),
    private_key_file: z.string().min(1).optional().describe('PEM private key file (RSA, 2048 bits or more).'),
    private_key: z.string().min(1).optional().describe('PEM private key inline (prefer the file form with a Secret).'),
    algorithm: z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'EdDSA']).default('RS256'),
  })
  .refine((v) => (v.private_key_file === undefined) !== (v.private_key === undefined), {
    message: 'set exactly one of private_key_file or private_key',
  });

export const gatewaySchema = z
  .strictObject({
    tls: tlsSchema.default({ min_version: 'TLSv1.3' }).describe('TLS for the HTTPS proxy listener (SPEC §11).'),
    store: z
      .string()
      .regex(/^(sqlite:|postgres(ql)?:\/\/)/, 'expected sqlite://PATH, sqlite::memory: or postgres://user:pass@host:5432/db')
      .default('sqlite://./.tollgate/tollgate.db')
      .describe('Entity store: embedded SQLite (one replica) or PostgreSQL (replicas).'),
    redis: z
      .preprocess(
        (v) => (v === '' ? undefined : v), // `redis: "${REDIS_URL:-}"`: Redis only where the variable is set
        z.string().regex(/^rediss?:\/\//, 'expected redis://host:6379/0 or rediss://…').optional(),
      )
      .describe('Shared counters for rate limits, budgets and revocations; omitted or empty = in-process counters (one replica).'),
    admin_token: z
      .string()
      .optional()
      .describe('Admin API token (`Authorization: Bearer` or `Kong-Admin-Token`); required when admin listens beyond loopback. Empty = unset.'),
    trusted_proxies: z.array(cidr).default([]).describe('Peers whose X-Forwarded-For is honoured: the client is its right-most entry that is not a trusted proxy (`ip:port` and `[v6]:port` entries read as their address); an entry that is no address stops the walk at the peer.'),
    issuer: z.url({ protocol: /^https?$/, error: 'expected an absolute http(s) URL' }).optional().describe('OAuth issuer identifier (required with the oauth2 plugin).'),
    signing_keys: z.array(signingKeySchema).default([]).describe('Keys for tokens tollgate issues: the first signs, all verify.'),
    data_dir: z.string().default('./.tollgate').describe('Writable directory for generated certificates, spools and the SQLite file.'),
    proxy_listen: listen.default('0.0.0.0:8000'),
    proxy_tls_listen: listen.default('0.0.0.0:8443'),
    admin_listen: listen.default('127.0.0.1:8001'),
    status_listen: listen.default('0.0.0.0:8100'),
    max_body_size: zSize.prefault(16 * 1024 * 1024).describe('Largest request body (bytes or `16m`); larger gets 413.'),
    max_header_size: zSize.prefault(16 * 1024).describe('Largest request header block (bytes or `16k`); larger gets 431.'),
    headers_timeout: zSeconds.prefault(60).describe('Seconds a client has to send its whole header block (slowloris guard).'),
    keepalive_timeout: zSeconds.prefault(75).describe('Seconds an idle client keep-alive connection stays open.'),
    drain_timeout: zSeconds.prefault(30).describe('Seconds SIGTERM waits for in-flight requests before exiting.'),
    upstream_keepalive: z.number().int().min(1).default(128).describe('Connections per upstream service kept open for reuse (nginx `keepalive`). Not a cap: while all are busy, requests open more, which close after 4 s idle.'),
    db_cache_ttl: zSeconds.prefault(5).describe('Seconds entities read on the request path (credentials, clients, workspaces) are cached per replica. While the store is unreachable, expired entries keep serving.'),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('Log level; a reload applies it too. `TOLLGATE_LOG_LEVEL` overrides it (start and reload).'),
  })
  .describe('Node settings.');

/** A plugin entry as written; `config` is validated against the plugin's own schema afterwards. */
const rawPluginEntry = z.preprocess(
  (v) => {
    if (v && typeof v === 'object' && !Array.isArray(v) && 'plugin' in v && !('name' in v)) {
      const { plugin, ...rest } = v as Record<string, unknown>;
      return { name: plugin, ...rest };
    }
    return v;
  },
  z.strictObject({
    name: z.string().min(1).describe('Plugin name (`plugin:` is accepted too, as in KongPlugin).'),
    instance_name: name.optional().describe('Distinguishes several instances of one plugin in one scope.'),
    enabled: z.boolean().default(true),
    config: z.record(z.string(), z.unknown()).default({}),
    tags: z.array(z.string()).default([]),
  }),
);

/**
 * A route's `hosts` entry as Kong takes it: a name, one wildcard label at its start or its end,
 * or an IPv6 literal, with an optional port (a name with a wildcard in the middle, or `*`
 * alone, would never match).
 */
const HOST_ENTRY = /^(?:\*\.(?:[A-Za-z0-9_-]+\.)*[A-Za-z0-9_-]+|(?:[A-Za-z0-9_-]+\.)*[A-Za-z0-9_-]+(?:\.\*)?\.?|\[[0-9A-Fa-f:.]+\])(?::(?:6553[0-5]|655[0-2]\d|65[0-4]\d{2}|6[0-4]\d{3}|[1-5]\d{4}|[1-9]\d{0,3}))?$/;

const header = z.record(z.string(), z.union([z.string(), z.array(z.string()).min(1)]));

export function routeSchema(plugins: z.ZodType<PluginEntry[]>) {
  return z.strictObject({
    name: name.optional(),
    paths: z
      .array(z.string().refine((p) => p.startsWith('/') || p.startsWith('~'), 'a path starts with "/" (prefix) or "~" (regex)'))
      .default([]),
    methods: z.array(z.string().regex(/^[A-Z]+$/, 'methods are upper-case, e.g. GET')).default([]),
    hosts: z.array(z.string().regex(HOST_ENTRY, 'expected a host name (api.example.com), one wildcard at its start or end (*.example.com, example.*), or an IPv6 literal ([::1]), optionally with a port up to 65535 (:8443)')).default([]),
    headers: header.default({}),
    protocols: z.array(z.enum(['http', 'https'])).min(1).default(['http', 'https']),
    strip_path: z.boolean().default(true),
    preserve_host: z.boolean().default(false),
    regex_priority: z.number().int().default(0),
    plugins: plugins.default([]),
    tags: z.array(z.string()).default([]),
  });
}

const timeoutMs = z.number().int().min(1).max(2_147_483_647);

export function serviceSchema(plugins: z.ZodType<PluginEntry[]>, routes: z.ZodType<RouteConfig[]> = z.array(routeSchema(plugins))) {
  return z
    .strictObject({
      name,
      url: z.url({ protocol: /^https?$/, error: 'expected an absolute http(s) URL such as http://gateway:9002' }).optional(),
      protocol: z.enum(['http', 'https']).optional(),
      host: z.string().min(1).optional(),
      port: z.number().int().min(1).max(65535).optional(),
      path: z.string().startsWith('/').optional(),
      connect_timeout: timeoutMs.default(60_000),
      write_timeout: timeoutMs.default(60_000),
      read_timeout: timeoutMs.default(60_000),
      retries: z.number().int().min(0).max(32767).default(5),
      tls_verify: z.boolean().default(true).describe('Verify the upstream certificate for https services.'),
      plugins: plugins.default([]),
      routes: routes.default([]),
      tags: z.array(z.string()).default([]),
    })
    .superRefine((s, ctx) => {
      if (s.url === undefined && s.host === undefined) {
        ctx.addIssue({ code: 'custom', path: ['url'], message: 'set url (or protocol/host/port/path)' });
      }
      if (s.url !== undefined && (s.host !== undefined || s.protocol !== undefined || s.port !== undefined || s.path !== undefined)) {
        ctx.addIssue({ code: 'custom', path: ['url'], message: 'set either url or protocol/host/port/path, not both' });
      }
    });
}

export const jwtSecretEntry = z.strictObject({
  id: z.uuid().optional(),
  key: z.string().min(1).describe('Matched against the token claim named by `key_claim_name` (default `iss`).'),
  algorithm: z
    .enum(['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'])
    .default('HS256'),
  rsa_public_key: z.string().min(1).optional().describe('PEM public key for RS*/PS*/ES*/EdDSA.'),
  secret: z.string().min(1).optional().describe('Shared secret for HS*.'),
  tags: z.array(z.string()).default([]),
});

/** Schemes that run code in the browser or read local content: never a redirect target. */
const UNSAFE_SCHEMES = new Set(['javascript:', 'data:', 'vbscript:', 'file:', 'blob:', 'filesystem:', 'about:']);

/**
 * An OAuth client's redirect URI, as the config file and the Admin API take it: absolute, no
 * fragment (RFC 6749 §3.1.2), no whitespace or control characters (RFC 3986 has none; the URL
 * parser would silently drop them, so `java\tscript:` would be read as `javascript:`), and a
 * scheme, as the URL parser reads it, that neither runs code nor reads local files.
 */
export const redirectUriSchema = z
  .string()
  .max(2048)
  .refine((v) => URL.canParse(v), 'expected an absolute URL such as https://your-app.com/callback')
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  .refine((v) => !/[\x00-\x20\x7f]/.test(v), 'a redirect URI has no spaces, tabs, line breaks or control characters')
  .refine((v) => !v.includes('#'), 'a redirect URI has no fragment (RFC 6749 §3.1.2)')
  .refine((v) => !URL.canParse(v) || !UNSAFE_SCHEMES.has(new URL(v).protocol), 'a redirect URI may not use the javascript:, data:, vbscript:, file:, blob: or about: scheme');

export const oauth2CredentialEntry = z.strictObject({
  id: z.uuid().optional(),
  name: z.string().min(1),
  client_id: z.string().min(1).max(255).optional(),
  client_secret: z.string().min(1).optional().describe('Plain secret (hashed when stored) …'),
  client_secret_hash: z.string().min(1).optional().describe('… or an already hashed secret, as `config export` writes.'),
  client_type: z.enum(['confidential', 'public']).default('confidential'),
  redirect_uris: z.array(redirectUriSchema).min(1),
  hash_secret: z.boolean().default(true),
  tags: z.array(z.string()).default([]),
});

export const consumerEntry = z
  .strictObject({
    id: z.uuid().optional(),
    username: z.string().min(1).optional(),
    custom_id: z.string().min(1).optional(),
    tags: z.array(z.string()).default([]),
    jwt_secrets: z.array(jwtSecretEntry).default([]),
    oauth2_credentials: z.array(oauth2CredentialEntry).default([]),
  })
  .refine((c) => c.username !== undefined || c.custom_id !== undefined, { message: 'a consumer needs username or custom_id' });

export const workspaceEntry = z.strictObject({
  id: z.string().min(1).max(255),
  token_budget_day: z.number().int().min(0).nullable().default(null),
  members: z.array(z.string().min(1)).default([]),
});

export interface PluginEntry {
  name: string;
  instance_name?: string | undefined;
  enabled: boolean;
  config: unknown;
  tags: string[];
}

/**
 * A plugin entry whose `config` is checked against the registered plugin's own schema, so
 * issue paths read `plugins[1].config.minute`.
 */
export function pluginEntrySchema(registry: PluginRegistry): z.ZodType<PluginEntry> {
  return rawPluginEntry.transform((entry, ctx): PluginEntry => {
    const def = registry.get(entry.name);
    if (!def) {
      ctx.addIssue({ code: 'custom', path: ['name'], message: `unknown plugin '${entry.name}' (known: ${registry.names().join(', ')})` });
      return z.NEVER;
    }
    const parsed = def.schema.safeParse(entry.config);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', path: ['config', ...issue.path.map(String)], message: describeIssue(issue) });
      return z.NEVER;
    }
    return { ...entry, config: parsed.data };
  }) as unknown as z.ZodType<PluginEntry>;
}

/**
 * The whole-file schema. config/parts.ts builds a lenient twin from the same pieces (each list
 * item and gateway field failing on its own) for the cross-field checks of a file that fails.
 */
export function buildConfigSchema(registry: PluginRegistry) {
  const plugins = z.array(pluginEntrySchema(registry));

  return z.strictObject({
    _format_version: z.enum(['1.1', '2.1', '3.0']).default('3.0'),
    _transform: z.boolean().optional(),
    gateway: gatewaySchema.default(gatewaySchema.parse({})),
    services: z.array(serviceSchema(plugins)).default([]),
    plugins: plugins.default([]),
    consumers: z.array(consumerEntry).default([]),
    workspaces: z.array(workspaceEntry).default([]),
  });
}

export type GatewaySettings = z.output<typeof gatewaySchema>;
export type ServiceConfig = z.output<ReturnType<typeof serviceSchema>>;
export type RouteConfig = z.output<ReturnType<typeof routeSchema>>;
export type ConsumerEntry = z.output<typeof consumerEntry>;
export type WorkspaceEntry = z.output<typeof workspaceEntry>;
export type TollgateConfig = z.output<ReturnType<typeof buildConfigSchema>>;
