import type { z } from 'zod';
import type { Logger } from 'pino';
import type { RequestContext, Identity } from './context.js';
import type { Claim, ClaimState, CounterStore } from '../counters/types.js';
import type { Store } from '../store/types.js';
import type { GatewaySettings, TollgateConfig } from '../config/schema.js';
import type { ConfigParts } from '../config/parts.js';
import type { Metrics } from './metrics.js';
import type { GatewayError } from './errors.js';
import type { StatusReport } from '../server/statusReport.js';

/**
 * The phases of the request path, in order (drawn in docs/architecture.md). A plugin belongs to
 * exactly one phase; within a phase, higher priority runs first (src/core/priorities.ts).
 */
export type Phase = 'correlation' | 'authentication' | 'authorization' | 'limits' | 'budget' | 'log';

/** Where a plugin entry was configured. */
export interface PluginScope {
  kind: 'global' | 'service' | 'route';
  service: string | null;
  route: string | null;
}

/** What a plugin factory gets besides its own config. Shared, long-lived parts only. */
export interface PluginEnv {
  gateway: GatewaySettings;
  config: TollgateConfig;
  store: Store;
  counters: CounterStore;
  metrics: Metrics;
  logger: Logger;
  scope: PluginScope;
  /** Stable id of this plugin entry, e.g. `global:rate-limiting:per-ip`; use it to namespace counters. */
  instanceId: string;
  instanceName: string | null;
  /** Writable directory for state (spool files, generated certificates). */
  dataDir: string;
  /** Connections, store and Redis reachability (the /status report). */
  status(): Promise<StatusReport>;
  /** Registers a function run before each /metrics scrape (for sampled gauges). */
  onScrape(fn: () => Promise<void> | void): void;
}

/**
 * A configuration problem found by a plugin's cross-field check. `path` is relative to the
 * entry's `config`, or to the file's root when `absolute` (e.g. `['gateway', 'issuer']`).
 */
export interface PluginConfigIssue {
  path: (string | number)[];
  message: string;
  absolute?: boolean;
}

/** Result of a limit admission, as seen by one plugin. */
export interface AdmissionOutcome {
  /** True when every claim of every plugin was admitted. */
  admitted: boolean;
  /** States of this plugin's claims, aligned with the array its `claims()` returned. */
  states: ClaimState[];
  /** Index into this plugin's claims of the claim that refused the request, or -1. */
  refusedIndex: number;
  /** True when counters fell back to in-process because Redis is unreachable. */
  degraded: boolean;
  /** When the counters decided (their clock; Redis's for Redis claims): `resetMs` counts from it. */
  nowMs: number;
}

/** What a plugin-served endpoint answers; the core adds X-Request-ID and Content-Length. */
export interface EndpointResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * A public endpoint a plugin serves itself on the proxy listeners (the OAuth endpoints,
 * SPEC §6). The runtime puts every endpoint of the loaded config in one table that the proxy
 * checks before route matching (exact path, after normalisation). No access phase runs (these
 * endpoints are always public); the request still gets its X-Request-ID, the global chain's
 * response-headers and log phases (audit, metrics), and a thrown GatewayError becomes the
 * SPEC JSON error.
 */
export interface PluginEndpoint {
  /** Exact path, e.g. `/oauth2/token`. */
  path: string;
  /** Methods served (HEAD is served with GET); another method gets 405 with `Allow`. */
  methods: readonly string[];
  /**
   * GET changes state here (it spends a single-use login, parks one): HEAD, which a link
   * checker or a prefetcher sends as safe, gets 405 instead of being served like GET.
   */
  noHead?: boolean;
  /** Largest request body read into `body`, in bytes (default 64 KiB); more gets 413. */
  maxBodyBytes?: number;
  /**
   * The answer for a refusal made before `handle` (wrong method 405, body too large 413, body
   * too slow 408) in the endpoint's own error format (OAuth's RFC 6749 §5.2 JSON); without it,
   * the gateway's JSON error. The error's headers (`Allow`, `Connection: close`) are added.
   */
  refusal?(err: GatewayError): EndpointResponse;
  handle(ctx: RequestContext, body: Buffer | null): EndpointResponse | Promise<EndpointResponse>;
}

/**
 * What a plugin entry tells the RFC 9728 protected resource metadata of its routes
 * (src/proxy/resourceMetadata.ts). An authentication plugin that declares it makes its routes
 * protected resources (their metadata is published, their 401s point to it); another phase's
 * plugin (access-control) only adds scopes.
 */
export interface ProtectedResourceFacts {
  /** Issuer identifiers of the authorization servers whose tokens it accepts; only those known. Read when the metadata is served. */
  authorizationServers?(): readonly string[];
  /** Scopes a client should ask for to use the route (`scopes_supported`). */
  scopes?: readonly string[];
}

/**
 * Phase functions of one configured plugin entry. All optional; a factory returns only the
 * phases it takes part in. Functions may return a promise; the pipeline awaits only then.
 * A phase stops the request by throwing a GatewayError (src/core/errors.ts).
 */
export interface PluginHandler {
  /**
   * authentication phase: `null` when the request carries no credential this plugin handles;
   * an Identity when it accepts; throws a GatewayError (usually 401) when it rejects.
   * The request is authenticated when any authentication plugin accepts.
   */
  authenticate?(ctx: RequestContext): Identity | null | Promise<Identity | null>;
  /** correlation / authorization / limits / budget phases: inspect, decorate or stop. */
  access?(ctx: RequestContext): void | Promise<void>;
  /**
   * limits / budget phases: the counters this request would consume. The pipeline admits the
   * claims of every limit plugin of the route in one atomic call (all-or-nothing).
   */
  claims?(ctx: RequestContext): Claim[] | null | Promise<Claim[] | null>;
  /** Outcome of the admission for this plugin's claims; throw to refuse (when refusedIndex >= 0). */
  admission?(ctx: RequestContext, outcome: AdmissionOutcome): void;
  /** Response headers phase: runs once the status is known, for upstream and gateway responses. */
  responseHeaders?(ctx: RequestContext): void;
  /** After the response ended or failed, before log (e.g. settle a token reservation). */
  responseEnd?(ctx: RequestContext): void | Promise<void>;
  /** log phase: after the response; must not block (queue work, never await I/O inline). */
  log?(ctx: RequestContext): void;
  /**
   * Releases resources when the config that built it is replaced (after the requests that used
   * it finished) or at shutdown (after draining): flush queued records here.
   */
  close?(): void | Promise<void>;
  /** Stored entities changed (Admin API write on this replica, or a config reload): drop caches. */
  entitiesChanged?(): void;
  /** Public endpoints this entry serves on the proxy listeners (see PluginEndpoint). */
  endpoints?: readonly PluginEndpoint[];
  /** Bearer tokens it accepts, for the RFC 9728 metadata of its routes (see ProtectedResourceFacts). */
  protectedResource?: ProtectedResourceFacts;
}

export interface PluginDefinition<C = unknown> {
  name: string;
  version: string;
  phase: Phase;
  /** The plugin's config schema: the single source of types, defaults and validation messages. */
  schema: z.ZodType<C>;
  /** True (or a function of config) when the plugin needs the request body buffered and parsed. */
  needsBody?: boolean | ((config: C) => boolean);
  /** True when the plugin reads AI facts (usage, model, tools) from the traffic. */
  observesAi?: boolean;
  /**
   * Cross-field checks against the whole config (e.g. oauth2 needs gateway.issuer). `root` may
   * be the valid parts of a file that fails the schema: skip what needs an INVALID part
   * (config/parts.ts), never read it as absent.
   */
  check?(config: C, root: ConfigParts): PluginConfigIssue[];
  /** Builds the handler once per configured entry; validates nothing at request time. */
  create(config: C, env: PluginEnv): PluginHandler | Promise<PluginHandler>;
}

/**
 * Declares a plugin: `export default definePlugin({...})`. The definition is checked against its
 * own config type here, then erased to `PluginDefinition<unknown>` for the registry (the config
 * that reaches `create` is always the output of the same `schema`).
 */
export function definePlugin<C>(def: PluginDefinition<C>): PluginDefinition<unknown> {
  return def as unknown as PluginDefinition<unknown>;
}
