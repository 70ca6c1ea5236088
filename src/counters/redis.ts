/**
 * Redis counters: every operation is one Lua script (src/counters/lua/), so a request's claims
 * are checked and committed atomically, in one round trip, on Redis server time.
 *
 * This class also owns the connection's health. Redis must never hang a request: no offline
 * queue (a command while disconnected fails at once), a short command timeout, no resend of
 * in-flight commands after a reconnect (they may have run: counting twice is worse than once),
 * and reconnects in the background. Health changes are logged once per transition.
 */
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { LuaScript, type RedisArg } from './luaScript.js';
import { admitArgv, budgetExpiryKey, budgetKey, decodeAdmissions, decodeRenewed, decodeUsage, decodeUsages, renewArgv, settleArgv, type AdmissionGroup, type RedisAdmission, type Settlement } from './redisCodec.js';
import { SharedTurn, TurnBatch } from './turnBatch.js';
import { CountersUnavailableError, type BudgetClaim, type BudgetUsage, type Claim } from './types.js';

export interface RedisCountersOptions {
  url: string;
  keyPrefix: string;
  logger?: Logger | undefined;
  /** A command not answered within this many ms fails (and the request falls back). Default 250. */
  commandTimeoutMs?: number | undefined;
  /** A connection attempt gives up after this many ms (then retries in the background). Default 1000. */
  connectTimeoutMs?: number | undefined;
}

type Health = 'connecting' | 'up' | 'down';

/** Settlements per settle.lua call at most (the rest go in the next call of the same flush). */
const SETTLE_BATCH = 128;

/** Admissions (requests) per admit.lua call at most: bounds how long one script holds Redis. */
const ADMIT_BATCH = 64;

/** Reconnect delay: 100 ms, 200 ms, … capped at 1 s. */
const retryStrategy = (times: number): number => Math.min(times * 100, 1000);

/** The URL without credentials, for logs. */
function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return 'redis://(unparsable url)';
  }
}

export class RedisCounters {
  readonly #client: Redis;
  readonly #prefix: string;
  readonly #logger: Logger | undefined;
  readonly #where: string;
  readonly #admit = new LuaScript('admit');
  readonly #settle = new LuaScript('settle');
  readonly #release = new LuaScript('release');
  readonly #usage = new LuaScript('usage');
  readonly #renew = new LuaScript('renew');
  #health: Health = 'connecting';
  #closing = false;
  #lastReplyErrorLog = 0;
  /**
   * The turn's batched calls (admissions, settlements) are sent together with the socket
   * corked: one write for both commands, not one each (the bench's Redis row makes one
   * fewer syscall per turn, ~13 requests at -c50).
   */
  readonly #turn = new SharedTurn((flushAll) => {
    const socket = this.#client.stream as Redis['stream'] | undefined;
    socket?.cork();
    try {
      flushAll();
    } finally {
      socket?.uncork();
    }
  });
  /** Admissions of one event-loop turn, sent in one admit.lua call (see `admit`). */
  readonly #admits = new TurnBatch<AdmissionGroup, RedisAdmission>(
    ADMIT_BATCH,
    async (groups) => decodeAdmissions(await this.#run(this.#admit, admitArgv(this.#prefix, groups)), groups),
    this.#turn.schedule,
  );
  /** Settlements of one event-loop turn, sent in one settle.lua call (see `settle`). */
  readonly #settles = new TurnBatch<Settlement, BudgetUsage>(
    SETTLE_BATCH,
    async (batch) => decodeUsages(await this.#run(this.#settle, settleArgv(this.#prefix, batch)), batch.length, 'settle'),
    this.#turn.schedule,
  );

  constructor(opts: RedisCountersOptions) {
    this.#prefix = opts.keyPrefix;
    this.#logger = opts.logger;
    this.#where = safeUrl(opts.url);
    this.#client = new Redis(opts.url, {
      enableOfflineQueue: false,
      commandTimeout: opts.commandTimeoutMs ?? 250,
      connectTimeout: opts.connectTimeoutMs ?? 1000,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      retryStrategy,
      connectionName: 'tollgate-counters',
      // The scripts' calls are batched per event-loop turn (TurnBatch) and sent pre-encoded
      // (luaScript.ts); auto-pipelining still groups the rare other commands of one tick.
      enableAutoPipelining: true,
    });
    this.#client.on('ready', () => this.#up());
    this.#client.on('error', (err: Error) => this.#down(err));
    this.#client.on('close', () => this.#down(undefined));
  }

  /** True while the connection is up: claims go to Redis. */
  get available(): boolean {
    return this.#health === 'up' && this.#client.status === 'ready';
  }

  /**
   * Admits all claims or none (`commit` false: only checks). Throws CountersUnavailableError.
   * The admissions of requests that arrive in the same event-loop turn go to Redis in one
   * admit.lua call (after the turn, by setImmediate), decided one after the other exactly as
   * separate calls would be: one command per turn instead of one per request.
   */
  admit(claims: readonly Claim[], commit: boolean): Promise<RedisAdmission> {
    if (!this.available) return Promise.reject(new CountersUnavailableError());
    return this.#admits.add({ claims, commit });
  }

  /**
   * Replaces a reservation by the real usage. Settlements of requests that end in the same
   * event-loop turn go to Redis in one settle.lua call (after the turn, by setImmediate): the
   * request path then costs one Redis command (the admission) plus a share of one. The
   * reservation holds until then, so nothing can be overspent meanwhile; the client already
   * has its response (settling runs after it).
   */
  settle(claim: BudgetClaim, actual: number): Promise<BudgetUsage> {
    if (!this.available) return Promise.reject(new CountersUnavailableError());
    return this.#settles.add({ claim, actual });
  }

  /** Settlements whose first call failed, sent again: each charged only while its reservation is held. */
  async settleAgain(batch: readonly Settlement[]): Promise<BudgetUsage[]> {
    const again = batch.map((s) => ({ ...s, retry: true }));
    return decodeUsages(await this.#run(this.#settle, settleArgv(this.#prefix, again)), again.length, 'settle');
  }

  async release(claim: BudgetClaim): Promise<BudgetUsage> {
    return decodeUsage(await this.#run(this.#release, this.#budgetArgv(claim.key, claim.reservationId)), 'release');
  }

  /** Extends the reservations still held (responses still streaming); returns how many were. */
  async renew(claims: readonly BudgetClaim[]): Promise<number> {
    if (claims.length === 0) return 0;
    return decodeRenewed(await this.#run(this.#renew, renewArgv(this.#prefix, claims)), claims.length);
  }

  async usage(key: string): Promise<BudgetUsage> {
    return decodeUsage(await this.#run(this.#usage, this.#budgetArgv(key)), 'usage');
  }

  async reset(key: string): Promise<void> {
    if (!this.available) throw new CountersUnavailableError();
    try {
      await this.#client.del(budgetKey(this.#prefix, key), budgetExpiryKey(this.#prefix, key));
    } catch (err) {
      throw this.#failed(err);
    }
  }

  /** Whether Redis answers now as a writable master (false at once while disconnected). */
  async ping(): Promise<boolean> {
    if (this.#client.status !== 'ready') return false;
    try {
      // ROLE, not PING: a replica answers PING, but every admission there fails READONLY.
      const role = await this.#client.call('ROLE').catch((err: unknown) => {
        if (err instanceof Error && err.name === 'ReplyError' && !err.message.startsWith('READONLY')) return null; // ROLE not allowed (ACL): PING instead
        throw err;
      });
      if (role === null) return (await this.#client.ping()) === 'PONG';
      return Array.isArray(role) && role[0] === 'master';
    } catch (err) {
      this.#failed(err);
      return false;
    }
  }

  /** Resolves true once connected (at once when already), false after `timeoutMs`. */
  waitReady(timeoutMs: number): Promise<boolean> {
    if (this.available) return Promise.resolve(true);
    return new Promise((resolve) => {
      const onReady = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#client.off('ready', onReady);
        resolve(false);
      }, timeoutMs);
      this.#client.once('ready', onReady);
    });
  }

  async close(): Promise<void> {
    // Admissions and settlements still waiting for their turn go out first.
    await Promise.all([this.#admits.drain(), this.#settles.drain()]);
    this.#closing = true;
    try {
      await this.#client.quit();
    } catch {
      this.#client.disconnect();
    }
  }

  /** `[<sha slot>, 2, budget key, expiry key, ...args]` for the budget scripts. */
  #budgetArgv(key: string, ...args: RedisArg[]): RedisArg[] {
    return ['', 2, budgetKey(this.#prefix, key), budgetExpiryKey(this.#prefix, key), ...args];
  }

  async #run(script: LuaScript, argv: RedisArg[]): Promise<unknown> {
    if (!this.available) throw new CountersUnavailableError();
    try {
      return await script.run(this.#client, argv);
    } catch (err) {
      throw this.#failed(err);
    }
  }

  /**
   * Classifies a failed command. A Redis error reply (OOM, BUSY, a script error) leaves the
   * connection up and is logged at most every 10 s; anything else (timeout, closed socket, a
   * READONLY replica) marks Redis down and forces a fresh connection, whose `ready` brings it
   * back.
   */
  #failed(err: unknown): CountersUnavailableError {
    // READONLY: this connection reaches a replica — after a failover, the demoted old master.
    // Handled like a lost connection: marked down (fault-tolerant limits count in-process,
    // /health/ready fails) and reconnected, which reaches whatever the address leads to now.
    if (err instanceof Error && err.name === 'ReplyError' && !err.message.startsWith('READONLY')) {
      const now = Date.now();
      if (now - this.#lastReplyErrorLog >= 10_000) {
        this.#lastReplyErrorLog = now;
        this.#logger?.error({ err, redis: this.#where }, 'Redis counters: command failed');
      }
    } else {
      const wasUp = this.#health === 'up';
      this.#down(err);
      if (wasUp && this.#client.status === 'ready') this.#client.disconnect(true);
    }
    return new CountersUnavailableError(err);
  }

  #up(): void {
    const was = this.#health;
    this.#health = 'up';
    if (was === 'down') this.#logger?.info({ redis: this.#where }, 'Redis reachable again: counters are shared through Redis again');
    else this.#logger?.info({ redis: this.#where }, 'Redis connected: counters are shared through Redis');
    if (was === 'connecting') void this.#checkEviction();
  }

  /**
   * Any maxmemory-policy but noeviction lets Redis evict live counters under memory pressure:
   * a limit or budget silently reset. Said once at start; a Redis that refuses CONFIG (managed
   * services, ACLs) is not asked again.
   */
  async #checkEviction(): Promise<void> {
    const reply = await this.#client.call('CONFIG', 'GET', 'maxmemory-policy').catch(() => null);
    const policy = Array.isArray(reply) ? String(reply[1] ?? '') : '';
    if (policy !== '' && policy !== 'noeviction') {
      this.#logger?.warn(
        { redis: this.#where, maxmemory_policy: policy },
        `Redis may evict keys (maxmemory-policy ${policy}): an evicted counter resets a rate limit or budget without a trace. Set maxmemory-policy noeviction (tollgate's keys all expire on their own)`,
      );
    }
  }

  #down(err: unknown): void {
    if (this.#closing || this.#health === 'down') return;
    this.#health = 'down';
    this.#logger?.warn(
      { err, redis: this.#where },
      'Redis unreachable: fault-tolerant redis-policy limits are counted in-process, the others fail with 503, until it is back',
    );
  }
}
