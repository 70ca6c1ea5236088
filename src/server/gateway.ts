import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerOptions, type ServerResponse } from 'node:http';
import { resolve } from 'node:path';
import { createServer as createHttpsServer, Server as HttpsServerClass, type Server as HttpsServer } from 'node:https';
import { createSecureContext } from 'node:tls';
import { mkdir } from 'node:fs/promises';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { TollgateConfig } from '../config/schema.js';
import type { PluginRegistry } from '../core/registry.js';
import { Runtime } from '../core/runtime.js';
import { Metrics } from '../core/metrics.js';
import { UserError } from '../core/errors.js';
import type { Store } from '../store/types.js';
import type { CounterStore } from '../counters/types.js';
import { createStore } from '../store/index.js';
import { configSnapshot } from '../store/configSnapshot.js';
import { StoreUnavailableError } from '../store/errors.js';
import { createCounterStore } from '../counters/index.js';
import { ProxyHandler } from '../proxy/handler.js';
import { UpgradeProxy } from '../proxy/upgrade.js';
import { UpstreamPools } from '../proxy/upstream.js';
import { parseListen, isLoopbackListen, type ListenAddress } from './listen.js';
import { loadTlsMaterial, secureOptions, TlsWatcher, type TlsMaterial } from './tls.js';
import { ConnectionStats } from './connections.js';
import { createStatusServer } from './statusServer.js';
import type { StatusReport } from './statusReport.js';
import { buildAdminServer } from '../admin/server.js';
import { ConfigSource } from './configSource.js';
import { VERSION } from '../version.js';
import { sendClientError } from './clientError.js';
import { preloadTokenizer } from '../ai/index.js';

export interface GatewayOptions {
  source: ConfigSource;
  registry: PluginRegistry;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
}

export interface ListeningPorts {
  proxy: number | null;
  proxy_tls: number | null;
  admin: number | null;
  status: number | null;
}

type Listener = HttpServer | HttpsServer;

/**
 * One gateway process: loads the config, opens the store and counters, compiles the runtime,
 * opens the four listeners, reloads on SIGHUP or file change, drains on SIGTERM.
 */
export class Gateway {
  private runtime!: Runtime;
  private store!: Store;
  private counters!: CounterStore;
  private readonly metrics = new Metrics();
  private readonly pools: UpstreamPools;
  private readonly connections = new ConnectionStats();
  private readonly listeners: Listener[] = [];
  private admin: FastifyInstance | null = null;
  private tlsWatcher: TlsWatcher | null = null;
  private tlsServer: HttpsServer | null = null;
  /** The status listener: kept open through a drain, closed once it is over. */
  private statusServer: HttpServer | null = null;
  private draining = false;
  private proxy: ProxyHandler | null = null;
  private loadedAt = new Date();
  private lastReloadError: string | null = null;
  private reloading: Promise<void> = Promise.resolve();
  /** Configs replaced by a reload whose requests are still running (drained, then closed). */
  private readonly retiring = new Set<Promise<void>>();
  /** Set when shutdown cuts the connections still open after drain_timeout. */
  private cutting = false;
  /** Whether the counters were started with a Redis (gateway.redis takes effect at restart only). */
  private runningRedis = false;
  /** The Admin API's listen setting as started (admin_listen takes effect at restart only). */
  private adminListen: string | null = null;
  private readonly logger: Logger;
  /** The long-lived child loggers (counters, admin), whose level follows a reloaded log_level. */
  private readonly componentLoggers: Logger[] = [];
  private readonly env: NodeJS.ProcessEnv;
  ports: ListeningPorts = { proxy: null, proxy_tls: null, admin: null, status: null };

  constructor(
    private config: TollgateConfig,
    private readonly opts: GatewayOptions,
  ) {
    this.logger = opts.logger;
    this.env = opts.env ?? process.env;
    this.pools = new UpstreamPools({ keepAliveConnections: config.gateway.upstream_keepalive });
  }

  private componentLogger(component: string): Logger {
    const child = this.logger.child({ component });
    this.componentLoggers.push(child);
    return child;
  }

  /** gateway.log_level applies on reload too, unless TOLLGATE_LOG_LEVEL pins it. */
  private applyLogLevel(level: string): void {
    if (this.env.TOLLGATE_LOG_LEVEL !== undefined || this.logger.level === level) return;
    for (const l of [this.logger, ...this.componentLoggers]) l.level = level;
    this.logger.info({ log_level: level }, 'log level changed');
  }

  private listenSetting(name: 'proxy' | 'proxy_tls' | 'admin' | 'status'): string {
    const envName = `TOLLGATE_${name.toUpperCase()}_LISTEN`;
    const fromEnv = this.env[envName];
    const g = this.config.gateway;
    const fromConfig = { proxy: g.proxy_listen, proxy_tls: g.proxy_tls_listen, admin: g.admin_listen, status: g.status_listen }[name];
    return fromEnv !== undefined && fromEnv !== '' ? fromEnv : fromConfig;
  }

  /**
   * SPEC §10: no Admin API beyond loopback without a token. Checked at start and on every
   * reload against the address it runs on (TOLLGATE_ADMIN_LISTEN included), so a reload that
   * drops the token cannot open it.
   */
  private adminTokenProblem(config: TollgateConfig): string | null {
    const listen = this.adminListen;
    if (listen === null || listen === 'off' || isLoopbackListen(listen) || config.gateway.admin_token) return null;
    return `gateway.admin_token: required because the Admin API listens on ${listen}, beyond loopback; set TOLLGATE_ADMIN_TOKEN or bind admin to 127.0.0.1`;
  }

  private address(name: 'proxy' | 'proxy_tls' | 'admin' | 'status'): ListenAddress | null {
    const value = this.listenSetting(name);
    try {
      return parseListen(value, name === 'admin' ? '127.0.0.1' : '0.0.0.0');
    } catch (err) {
      throw new UserError(`TOLLGATE_${name.toUpperCase()}_LISTEN / gateway.${name}_listen: ${(err as Error).message}`);
    }
  }

  async start(): Promise<ListeningPorts> {
    const g = this.config.gateway;
    this.adminListen = this.listenSetting('admin');
    const noToken = this.adminTokenProblem(this.config);
    if (noToken !== null) throw new UserError(noToken);
    try {
      await mkdir(g.data_dir, { recursive: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new UserError(`gateway.data_dir (${resolve(g.data_dir)}): cannot create it: ${code}; make it a writable directory (on a read-only root filesystem, an emptyDir volume)`);
    }
    this.store = await createStore(g.store, { logger: this.componentLogger('store') });
    await this.migrateWhenReachable();
    await this.store.syncEntities(await configSnapshot(this.config, { store: this.store }), { source: 'config', mode: 'replace' });
    this.runningRedis = g.redis !== undefined;
    const counters = createCounterStore({ redisUrl: g.redis, logger: this.componentLogger('counters') });
    this.counters = counters;
    // Give Redis a moment so the first requests are counted in the shared store; if it is down,
    // limits with fault_tolerant keep working in-process and /health/ready says why.
    if (g.redis && !(await counters.waitReady(3000))) this.logger.warn('Redis not reachable at start: counting in-process until it is');
    this.runtime = await this.buildRuntime(this.config);

    const proxy = (this.proxy = new ProxyHandler({
      runtimes: { current: () => this.runtime },
      counters: this.counters,
      logger: this.logger,
      onRequestStart: (socket) => this.connections.requestStarted(socket),
      onRequestEnd: () => this.connections.requestEnded(),
      closedByGateway: () => this.cutting,
    }));
    const upgrade = new UpgradeProxy(proxy, this.counters, this.logger);
    const onRequest: typeof proxy.handle = (req, res, awaitsContinue) => {
      if (this.draining) res.shouldKeepAlive = false;
      proxy.handle(req, res, awaitsContinue);
    };
    const httpOptions: ServerOptions = {
      maxHeaderSize: g.max_header_size,
      headersTimeout: g.headers_timeout,
      requestTimeout: 0,
      keepAliveTimeout: g.keepalive_timeout,
      connectionsCheckingInterval: 1000,
      // Repeated fields arrive joined (`a, b`) instead of Node keeping the first of some (Host,
      // Authorization, …): two Host lines are then refused as a bad Host, two credentials fail
      // as one malformed one, instead of the gateway and the upstream reading different ones.
      joinDuplicateHeaders: true,
      // A missing Host gets tollgate's JSON 400 (TG_BAD_HOST) instead of Node's empty one.
      requireHostHeader: false,
    };

    const proxyAddr = this.address('proxy');
    if (proxyAddr) {
      const server = createHttpServer(httpOptions, onRequest);
      this.wireProxyServer(server, proxy, upgrade, onRequest);
      this.ports.proxy = await this.listen(server, proxyAddr, 'proxy');
    }
    const tlsAddr = this.address('proxy_tls');
    if (tlsAddr) {
      const material = await loadTlsMaterial(g, g.data_dir, this.logger);
      const server = createHttpsServer({ ...httpOptions, ...secureOptions(material, g.tls), handshakeTimeout: g.headers_timeout }, onRequest);
      this.wireProxyServer(server, proxy, upgrade, onRequest);
      this.watchTls(server, material);
      this.ports.proxy_tls = await this.listen(server, tlsAddr, 'proxy_tls');
    }
    const adminAddr = this.address('admin');
    if (adminAddr) {
      this.admin = await buildAdminServer(
        {
          store: this.store,
          counters: this.counters,
          logger: this.componentLogger('admin'),
          runtime: () => this.runtime,
          status: () => this.report(),
          entitiesChanged: () => this.entitiesChanged(),
          version: VERSION,
        },
        () => this.config.gateway.admin_token,
      );
      await this.admin.listen({ host: adminAddr.host, port: adminAddr.port });
      this.ports.admin = (this.admin.server.address() as AddressInfo).port;
    }
    const statusAddr = this.address('status');
    if (statusAddr) {
      const server = createStatusServer({
        registry: this.metrics.registry,
        report: () => this.report(),
        ready: () => this.ready(),
        beforeScrape: async () => {
          for (const hook of this.runtime.scrapeHooks) await hook();
        },
      });
      this.ports.status = await this.listen(server, statusAddr, 'status');
      // Not closed with the proxy listeners at SIGTERM: probes and scrapes are answered through
      // the drain (/health/ready says "draining", /metrics keeps the replica's last counts).
      this.listeners.splice(this.listeners.indexOf(server), 1);
      this.statusServer = server;
    }
    // The tokenizer takes ~200 ms to load: pay it now rather than on the first AI request.
    if (this.runtime.routes.some((r) => r.chain.observesAi)) setImmediate(preloadTokenizer);
    return this.ports;
  }

  private wireProxyServer(server: Listener, proxy: ProxyHandler, upgrade: UpgradeProxy, onRequest: ProxyHandler['handle']): void {
    // Node keeps only the first 1,000 headers of a request (maxHeadersCount 2000 counts names
    // and values) and drops the rest without a word: a credential after them was ignored.
    // max_header_size bounds a request's headers already (431 beyond it).
    server.maxHeadersCount = 0;
    this.connections.track(server, server instanceof HttpsServerClass);
    server.on('upgrade', upgrade.handle);
    server.on('connect', upgrade.connect);
    // `Expect: 100-continue`: Node would answer 100 at once; the proxy sends it once access has
    // passed (a 401 goes out instead of inviting the body).
    server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => onRequest(req, res, true));
    server.on('checkExpectation', proxy.refuseExpectation);
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      if (proxy.parserFailed(err, socket)) return;
      const refusal = sendClientError(err, socket, this.logger);
      if (refusal !== null) proxy.logRefusal(refusal, socket);
    });
    this.listeners.push(server);
  }

  /**
   * A reload's `gateway.tls`, checked before the reload is applied: the material to serve when
   * the section changed (new files, or the current ones under new options), null when it did
   * not or no TLS listener runs. Throws UserError (the reload is refused) when it does not load.
   */
  private async prepareTls(next: TollgateConfig): Promise<TlsMaterial | null> {
    const before = this.config.gateway.tls;
    const after = next.gateway.tls;
    if (this.tlsServer === null || this.tlsWatcher === null || JSON.stringify(before) === JSON.stringify(after)) return null;
    const sameFiles = before.cert === after.cert && before.key === after.key;
    const material = sameFiles ? this.tlsWatcher.current : await loadTlsMaterial(next.gateway, next.gateway.data_dir, this.logger);
    try {
      createSecureContext(secureOptions(material, after));
    } catch (err) {
      throw new UserError(`gateway.tls: ${(err as Error).message}; the TLS listener keeps its current settings`);
    }
    return material;
  }

  /** Serves a reload's TLS material and options to new handshakes, and watches its files. */
  private applyTls(material: TlsMaterial): void {
    const server = this.tlsServer!;
    server.setSecureContext(secureOptions(material, this.config.gateway.tls));
    this.tlsWatcher?.stop();
    this.watchTls(server, material);
    this.logger.info({ cert: material.certFile, min_version: this.config.gateway.tls.min_version }, 'TLS settings reloaded');
  }

  private watchTls(server: HttpsServer, material: TlsMaterial): void {
    this.tlsServer = server;
    const tls = () => this.config.gateway.tls;
    this.tlsWatcher = new TlsWatcher(
      material,
      (m) => createSecureContext(secureOptions(m, tls())),
      (m) => server.setSecureContext(secureOptions(m, tls())),
      this.logger,
      Number(this.env.TOLLGATE_TLS_POLL_MS ?? 2000),
    );
    this.tlsWatcher.start();
  }

  private listen(server: Listener, addr: ListenAddress, name: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        const why = err.code === 'EADDRINUSE' ? 'address already in use' : err.code === 'EACCES' ? 'permission denied' : err.message;
        reject(new UserError(`${name} listener ${addr.host}:${addr.port}: ${why}; set TOLLGATE_${name.toUpperCase()}_LISTEN to another address or "off"`, 1));
      };
      server.once('error', onError);
      server.listen(addr.port, addr.host, () => {
        server.off('error', onError);
        if (!this.listeners.includes(server)) this.listeners.push(server);
        resolve((server.address() as AddressInfo).port);
      });
    });
  }

  /**
   * Migrates the store, waiting for it while it is unreachable (a PostgreSQL still starting, a
   * PVC still binding: on Kubernetes the pod's startupProbe allows 120 s), up to
   * TOLLGATE_STORE_WAIT_S (default 60 s), logging once; then the start fails as before (exit 1,
   * the store named). Other errors (a failed migration, bad credentials) fail at once.
   */
  private async migrateWhenReachable(): Promise<void> {
    const waitMs = 1000 * Number(this.env.TOLLGATE_STORE_WAIT_S ?? 60);
    const deadline = Date.now() + waitMs;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.store.migrate();
        if (attempt > 0) this.logger.info({ store: this.store.location }, 'store reachable: starting');
        return;
      } catch (err) {
        if (!(err instanceof StoreUnavailableError) || Date.now() + 1000 > deadline) throw err;
        if (attempt === 0) this.logger.warn({ store: this.store.location, err: err.reason, wait_s: waitMs / 1000 }, 'store unreachable at start: waiting for it');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private buildRuntime(config: TollgateConfig): Promise<Runtime> {
    return Runtime.build(config, {
      registry: this.opts.registry,
      store: this.store,
      counters: this.counters,
      metrics: this.metrics,
      logger: this.logger,
      pools: this.pools,
      dataDir: config.gateway.data_dir,
      status: () => this.report(),
    });
  }

  private entitiesChanged(): void {
    for (const inst of this.runtime.instances) inst.handler.entitiesChanged?.();
  }

  /**
   * Re-reads the config; a valid one is swapped in atomically (requests in flight finish on the
   * old one), an invalid one is refused with the same one-line errors and the old keeps serving.
   */
  reload(reason: string): Promise<void> {
    this.reloading = this.reloading.then(async () => {
      let next: TollgateConfig;
      try {
        next = await this.opts.source.load(true);
      } catch (err) {
        this.lastReloadError = (err as Error).message;
        for (const line of (err as Error).message.split('\n')) process.stderr.write(`${line}\n`);
        this.logger.error({ reason }, 'config reload refused; the current config keeps serving');
        return;
      }
      let tls: TlsMaterial | null;
      try {
        const noToken = this.adminTokenProblem(next);
        if (noToken !== null) throw new UserError(noToken);
        tls = await this.prepareTls(next);
      } catch (err) {
        this.lastReloadError = (err as Error).message;
        process.stderr.write(`${this.opts.source.file ?? 'config'}: ${(err as Error).message}\n`);
        this.logger.error({ reason }, 'config reload refused; the current config keeps serving');
        return;
      }
      // Fixed when the listeners, pools and stores were created.
      const restartOnly = [
        'store',
        'redis',
        'proxy_listen',
        'proxy_tls_listen',
        'admin_listen',
        'status_listen',
        'data_dir',
        'max_header_size',
        'headers_timeout',
        'keepalive_timeout',
        'upstream_keepalive',
      ] as const;
      const changed = restartOnly.filter((k) => JSON.stringify(next.gateway[k]) !== JSON.stringify(this.config.gateway[k]));
      if (changed.length > 0) this.logger.warn({ fields: changed.map((k) => `gateway.${k}`) }, 'these settings take effect at the next restart');
      try {
        // Built first: a config that fails here (a key file, a plugin's sink) must change
        // nothing, so the store keeps its entities until the new runtime exists.
        // First: the new plugins' loggers are children made at build, with their parent's level.
        this.applyLogLevel(next.gateway.log_level);
        const built = await this.buildRuntime(next);
        try {
          await this.store.syncEntities(await configSnapshot(next, { store: this.store }), { source: 'config', mode: 'replace' });
        } catch (err) {
          await built.close(this.logger).catch(() => undefined);
          throw err;
        }
        const old = this.runtime;
        this.runtime = built;
        this.config = next;
        this.loadedAt = new Date();
        this.lastReloadError = null;
        this.entitiesChanged();
        if (tls !== null) this.applyTls(tls);
        this.logger.info({ reason }, 'config reloaded');
        // The old config retires once its requests are done; shutdown waits for it too.
        const retired: Promise<void> = old
          .drained(this.config.gateway.drain_timeout)
          .then(async () => {
            await old.close(this.logger);
            if (!this.draining) await this.pools.retain(this.runtime.poolKeys);
          })
          .finally(() => this.retiring.delete(retired));
        this.retiring.add(retired);
      } catch (err) {
        this.applyLogLevel(this.config.gateway.log_level);
        this.lastReloadError = (err as Error).message;
        process.stderr.write(`${this.opts.source.file ?? 'config'}: ${(err as Error).message}\n`);
        this.logger.error({ err, reason }, 'config reload failed; the current config keeps serving');
      }
    });
    return this.reloading;
  }

  async report(): Promise<StatusReport> {
    const c = this.connections.snapshot();
    const [db, redis] = await Promise.all([this.store.ping().catch(() => false), this.counters.ping().catch(() => false)]);
    const mem = process.memoryUsage();
    return {
      server: {
        connections_accepted: c.accepted,
        connections_handled: c.handled,
        connections_active: c.active,
        connections_reading: c.reading,
        connections_writing: c.writing,
        connections_waiting: c.waiting,
        total_requests: c.total_requests,
      },
      database: { reachable: db, kind: this.store.kind },
      // The Redis the counters use: the one configured at start (gateway.redis is restart-only).
      redis: { reachable: this.runningRedis ? redis : false, configured: this.runningRedis },
      configuration: { loaded_at: this.loadedAt.toISOString(), hash: this.opts.source.hash, file: this.opts.source.file, last_reload_error: this.lastReloadError },
      memory: { rss_bytes: mem.rss, heap_used_bytes: mem.heapUsed },
      draining: this.draining,
    };
  }

  async ready(): Promise<{ ready: boolean; reasons: string[] }> {
    const reasons: string[] = [];
    if (this.draining) reasons.push('draining');
    if (!(await this.store.ping().catch(() => false))) reasons.push('store unreachable');
    if (this.runningRedis && !(await this.counters.ping().catch(() => false))) reasons.push('redis unreachable');
    return { ready: reasons.length === 0, reasons };
  }

  /**
   * SIGTERM: stop accepting, let in-flight requests finish (up to drain_timeout), flush what
   * plugins queued (audit records), close everything. Resolves when it is safe to exit.
   */
  async shutdown(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    this.tlsWatcher?.stop();
    this.opts.source.stopWatching();
    const closed = this.listeners.map((s) => new Promise<void>((r) => s.close(() => r())));
    for (const s of this.listeners) s.closeIdleConnections();
    this.proxy?.closeEventStreams();
    const idle = setInterval(() => {
      for (const s of this.listeners) s.closeIdleConnections();
    }, 100);
    idle.unref();
    // Requests on configs a reload replaced are drained (and their records flushed) too.
    await Promise.all([this.runtime.drained(this.config.gateway.drain_timeout), ...this.retiring]);
    clearInterval(idle);
    this.cutting = true;
    this.connections.destroyAll();
    await Promise.race([Promise.all(closed), new Promise((r) => setTimeout(r, 1000).unref())]);
    if (this.statusServer !== null) {
      const status = this.statusServer;
      const done = new Promise<void>((r) => status.close(() => r()));
      status.closeAllConnections();
      await done;
    }
    await this.runtime.close(this.logger);
    await this.admin?.close();
    await this.pools.closeAll();
    await this.counters.close();
    await this.store.close();
  }
}
