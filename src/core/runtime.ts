import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import type { PluginEntry, RouteConfig, ServiceConfig, TollgateConfig } from '../config/schema.js';
import type { PluginRegistry } from './registry.js';
import type { PluginEndpoint, PluginEnv, PluginHandler, PluginScope } from './plugin.js';
import { UserError } from './errors.js';
import type { CounterStore } from '../counters/types.js';
import type { Store } from '../store/types.js';
import type { Metrics } from './metrics.js';
import type { StatusReport } from '../server/statusReport.js';
import { buildChain, type Chain, type PluginInstance } from './pipeline.js';
import { Router } from '../proxy/router.js';
import { ClientIpResolver } from '../proxy/clientIp.js';
import { upstreamTarget, type UpstreamPools } from '../proxy/upstream.js';
import { resourceMetadataEndpoints, routeResource, type RouteResource } from '../proxy/resourceMetadata.js';

/** A service ready to receive traffic: its upstream origin and the dispatcher that reaches it. */
export interface CompiledService {
  name: string;
  config: ServiceConfig;
  origin: string;
  /** Path prefix of the service URL ('' or '/base'). */
  basePath: string;
  /** Host header value when preserve_host is off. */
  hostHeader: string;
  dispatcher: Dispatcher;
}

/** A route with its service and its precomputed plugin chain. */
export interface CompiledRoute {
  name: string;
  config: RouteConfig;
  service: CompiledService;
  chain: Chain;
  /** 'http' allowed / 'https' allowed, precomputed from `protocols`. */
  http: boolean;
  https: boolean;
  /** RFC 9728 metadata of a bearer-protected route (its 401s point to it); null otherwise. */
  resource: RouteResource | null;
}

export interface RuntimeDeps {
  registry: PluginRegistry;
  store: Store;
  counters: CounterStore;
  metrics: Metrics;
  logger: Logger;
  pools: UpstreamPools;
  dataDir: string;
  status(): Promise<StatusReport>;
}

/**
 * One loaded config, compiled: router, services with their dispatchers, plugin chains. A reload
 * builds a new Runtime and swaps it in atomically; requests keep the Runtime they started with,
 * and the old one is closed once its in-flight requests are done.
 */
export class Runtime {
  readonly router: Router<CompiledRoute>;
  readonly clientIp: ClientIpResolver;
  /** Global plugins only: for requests that matched no route (404) and gateway-level errors. */
  readonly globalChain: Chain;
  readonly poolKeys: Set<string>;
  /** Plugin-served endpoints by exact path (checked before route matching; see PluginEndpoint). */
  readonly endpoints: ReadonlyMap<string, PluginEndpoint>;
  /**
   * What guards those endpoints: the global `rate-limiting` instances only (they are public, so
   * no authentication, and they charge no token budget), e.g. a per-IP limit against credential
   * stuffing on /oauth2/token.
   */
  readonly endpointChain: Chain;
  /** Run before each /metrics scrape (registered by this runtime's plugins). */
  readonly scrapeHooks: Array<() => Promise<void> | void>;
  inflight = 0;
  private closed: Promise<void> | null = null;
  private readonly idle: Array<() => void> = [];

  private constructor(
    readonly config: TollgateConfig,
    readonly routes: CompiledRoute[],
    readonly instances: PluginInstance[],
    globalChain: Chain,
    poolKeys: Set<string>,
    scrapeHooks: Array<() => Promise<void> | void>,
    clientIp: ClientIpResolver,
  ) {
    this.scrapeHooks = scrapeHooks;
    this.router = new Router(routes);
    this.clientIp = clientIp;
    this.globalChain = globalChain;
    this.poolKeys = poolKeys;
    this.endpoints = endpointTable(instances, resourceMetadataEndpoints(routes, clientIp));
    this.endpointChain = buildChain(globalChain.limiters.filter((p) => p.phase === 'limits'));
  }

  /**
   * Builds every plugin instance and route of a config. If one cannot be built, the instances
   * made so far are closed (their sinks released) and the error names the plugin: a file it
   * cannot open (an audit path without write permission) is a UserError (exit 2 at start, a
   * refused reload later).
   */
  static async build(config: TollgateConfig, deps: RuntimeDeps): Promise<Runtime> {
    const instances: PluginInstance[] = [];
    try {
      return await Runtime.assemble(config, deps, instances);
    } catch (err) {
      for (const inst of instances) await Promise.resolve(inst.handler.close?.()).catch(() => undefined);
      throw err;
    }
  }

  private static async assemble(config: TollgateConfig, deps: RuntimeDeps, instances: PluginInstance[]): Promise<Runtime> {
    const scrapeHooks: Array<() => Promise<void> | void> = [];
    const make = async (entry: PluginEntry, scope: PluginScope): Promise<PluginInstance> => {
      const def = deps.registry.get(entry.name);
      if (!def) throw new Error(`unknown plugin '${entry.name}'`);
      const instanceId = [scope.kind, scope.service ?? '', scope.route ?? '', entry.name, entry.instance_name ?? ''].join(':');
      const env: PluginEnv = {
        gateway: config.gateway,
        config,
        store: deps.store,
        counters: deps.counters,
        metrics: deps.metrics,
        logger: deps.logger.child({ plugin: entry.name, instance: entry.instance_name ?? undefined }),
        scope,
        instanceId,
        instanceName: entry.instance_name ?? null,
        dataDir: deps.dataDir,
        status: deps.status,
        onScrape: (fn) => scrapeHooks.push(fn),
      };
      let handler: PluginHandler;
      try {
        handler = await def.create(entry.config, env);
      } catch (err) {
        throw createFailure(entry, scope, err);
      }
      const needsBody = typeof def.needsBody === 'function' ? def.needsBody(entry.config) : (def.needsBody ?? false);
      const instance: PluginInstance = {
        name: entry.name,
        instanceName: entry.instance_name ?? null,
        instanceId,
        phase: def.phase,
        priority: def.priority,
        needsBody: needsBody || (def.observesAi ?? false),
        observesAi: def.observesAi ?? false,
        handler,
      };
      instances.push(instance);
      return instance;
    };
    const keyOf = (e: PluginEntry) => `${e.name}:${e.instance_name ?? ''}`;

    const globals = new Map<string, { entry: PluginEntry; instance: PluginInstance | null }>();
    for (const entry of config.plugins) {
      globals.set(keyOf(entry), { entry, instance: entry.enabled ? await make(entry, { kind: 'global', service: null, route: null }) : null });
    }
    const globalChain = buildChain([...globals.values()].flatMap((g) => (g.instance ? [g.instance] : [])));

    const routes: CompiledRoute[] = [];
    const poolKeys = new Set<string>();
    const clientIp = new ClientIpResolver(config.gateway.trusted_proxies);
    for (const svc of config.services) {
      const { dispatcher, key } = deps.pools.get(svc);
      poolKeys.add(key);
      const target = upstreamTarget(svc);
      const service: CompiledService = { name: svc.name, config: svc, ...target, dispatcher };
      const serviceScoped = new Map<string, PluginInstance | null>();
      for (const entry of svc.plugins) {
        serviceScoped.set(keyOf(entry), entry.enabled ? await make(entry, { kind: 'service', service: svc.name, route: null }) : null);
      }
      for (const [ri, route] of svc.routes.entries()) {
        const routeName = route.name ?? `${svc.name}-${ri}`;
        const effective = new Map<string, PluginInstance | null>();
        for (const [k, g] of globals) effective.set(k, g.instance);
        for (const [k, inst] of serviceScoped) effective.set(k, inst);
        for (const entry of route.plugins) {
          effective.set(keyOf(entry), entry.enabled ? await make(entry, { kind: 'route', service: svc.name, route: routeName }) : null);
        }
        const applied = [...effective.values()].filter((i): i is PluginInstance => i !== null);
        routes.push({
          name: routeName,
          config: route,
          service,
          chain: buildChain(applied),
          http: route.protocols.includes('http'),
          https: route.protocols.includes('https'),
          resource: routeResource(route, applied, clientIp),
        });
      }
    }
    return new Runtime(config, routes, instances, globalChain, poolKeys, scrapeHooks, clientIp);
  }

  enter(): void {
    this.inflight++;
  }

  leave(): void {
    this.inflight--;
    if (this.inflight === 0) for (const wake of this.idle.splice(0)) wake();
  }

  /** Resolves when no request uses this runtime any more (or after `timeoutMs`). */
  drained(timeoutMs: number): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      timer.unref();
      this.idle.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Closes every plugin handler once (after draining). */
  close(logger: Logger): Promise<void> {
    this.closed ??= (async () => {
      for (const inst of this.instances) {
        try {
          await inst.handler.close?.();
        } catch (err) {
          logger.warn({ err, plugin: inst.name }, 'plugin close failed');
        }
      }
    })();
    return this.closed;
  }
}

/** A plugin that could not be created; system errors (EACCES, ENOTDIR, …) become UserErrors. */
function createFailure(entry: PluginEntry, scope: PluginScope, err: unknown): unknown {
  if (err instanceof UserError) return err;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (typeof code !== 'string' || !/^E[A-Z]+$/.test(code)) return err;
  const where = scope.kind === 'global' ? 'global' : scope.kind === 'service' ? `service ${scope.service}` : `route ${scope.route}`;
  return new UserError(`plugin '${entry.name}' (${where}): ${(err as Error).message}; check the paths and permissions in its config`);
}

/**
 * The plugin-served endpoints of one config, by path. Instances are in config order (global
 * entries first), so when two entries serve one path the first declared wins; for oauth2 the
 * entries are equal by construction (its config check refuses differing authorization servers).
 * Then the RFC 9728 metadata of the protected routes (src/proxy/resourceMetadata.ts).
 */
function endpointTable(instances: readonly PluginInstance[], resourceEndpoints: readonly PluginEndpoint[]): ReadonlyMap<string, PluginEndpoint> {
  const table = new Map<string, PluginEndpoint>();
  for (const inst of instances) {
    for (const ep of inst.handler.endpoints ?? []) if (!table.has(ep.path)) table.set(ep.path, ep);
  }
  for (const ep of resourceEndpoints) if (!table.has(ep.path)) table.set(ep.path, ep);
  return table;
}
