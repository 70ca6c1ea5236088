import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RevokedToken, Store } from '../store/types.js';
import { RevocationList } from './revocationList.js';

/**
 * Keeps this replica's RevocationList equal to the store's revocations, so that "a revoked
 * token stops working at once on every replica" costs the request path no round trip:
 *
 * - the store is the truth (a revocation is committed there first);
 * - the revoking replica adds the `jti`s to its own list at once and PUBLISHes them on Redis;
 *   every replica SUBSCRIBEs and adds what it hears (sub-millisecond);
 * - a full load from the store at start and each time the subscription comes (back) up closes
 *   any gap while Redis was unreachable;
 * - an incremental store poll (`revoked_at` index) runs every 10 s while the subscription is
 *   live, every second while it is not (or without Redis: one replica, or N replicas that then
 *   see a revocation within a second).
 *
 * Redis connections fail fast like the counters' (no offline queue, short timeouts): a publish
 * that fails is logged; the others' polls pick the revocation up.
 */

const CHANNEL = 'tollgate:oauth2:revoked';
/** Incremental polls look back this far, so clock differences between replicas lose nothing. */
const OVERLAP_MS = 60_000;
const POLL_LIVE_MS = 10_000;
const POLL_DOWN_MS = 1_000;
const PURGE_EVERY_MS = 10 * 60_000;
/** How long an announcement waits to hear its own message back from Redis (see announce). */
const ECHO_WAIT_MS = 250;

export interface RevocationFeedOptions {
  store: Store;
  redisUrl: string | undefined;
  logger: Logger;
}

function encode(tokens: readonly RevokedToken[]): string {
  return JSON.stringify(tokens.map((t) => [t.jti, t.expires_at]));
}

function decode(message: string): RevokedToken[] {
  try {
    const v: unknown = JSON.parse(message);
    if (!Array.isArray(v)) return [];
    return v.flatMap((e: unknown) => (Array.isArray(e) && typeof e[0] === 'string' && typeof e[1] === 'number' ? [{ jti: e[0], expires_at: e[1] }] : []));
  } catch {
    return [];
  }
}

function redisClient(url: string, name: string): Redis {
  return new Redis(url, {
    enableOfflineQueue: false,
    commandTimeout: 500,
    connectTimeout: 1000,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    autoResubscribe: false,
    retryStrategy: (times: number) => Math.min(times * 100, 1000),
    connectionName: name,
  });
}

export class RevocationFeed {
  readonly list = new RevocationList();
  /** The initial full load from the store (the plugin waits for it before serving). */
  readonly ready: Promise<void>;
  readonly #store: Store;
  readonly #logger: Logger;
  readonly #sub: Redis | null;
  readonly #pub: Redis | null;
  #live = false;
  #lastPoll = 0;
  #storeOk = true;
  #closed = false;
  #pollTimer: NodeJS.Timeout | null = null;
  /** A store poll is running (it schedules the next one when it is done). */
  #polling = false;
  readonly #purgeTimer: NodeJS.Timeout;
  /** Announcements waiting to hear their own message back, by message. */
  readonly #echoes = new Map<string, Array<() => void>>();

  constructor(opts: RevocationFeedOptions) {
    this.#store = opts.store;
    this.#logger = opts.logger;
    this.ready = this.#load(0);
    this.#sub = opts.redisUrl ? redisClient(opts.redisUrl, 'tollgate-revocations-sub') : null;
    this.#pub = opts.redisUrl ? redisClient(opts.redisUrl, 'tollgate-revocations-pub') : null;
    if (this.#sub) this.#wire(this.#sub);
    this.#pub?.on('error', () => {});
    this.#purgeTimer = setInterval(() => void this.#purge(), PURGE_EVERY_MS + Math.floor(Math.random() * 60_000));
    this.#purgeTimer.unref();
    void this.ready.then(() => this.#schedule());
  }

  #wire(sub: Redis): void {
    sub.on('message', (channel: string, message: string) => {
      if (channel !== CHANNEL) return;
      this.list.add(decode(message));
      const waiting = this.#echoes.get(message);
      if (waiting === undefined) return;
      this.#echoes.delete(message);
      for (const heard of waiting) heard();
    });
    sub.on('ready', () => {
      sub.subscribe(CHANNEL).then(
        () => {
          this.#live = true;
          this.#logger.info('oauth2: revocation feed subscribed on Redis');
          void this.#load(0);
        },
        (err: unknown) => this.#logger.warn({ err }, 'oauth2: revocation feed could not subscribe; polling the store every second'),
      );
    });
    const down = () => {
      if (!this.#live) return;
      this.#logger.warn('oauth2: revocation feed lost Redis; polling the store every second until it is back');
      this.#live = false;
      // The poll armed while live waits 10 s: re-arm it at the 1 s of the outage now, or a
      // revocation made meanwhile (its announcement failed too) would wait up to 10 s here.
      if (this.#pollTimer !== null && !this.#polling) {
        clearTimeout(this.#pollTimer);
        this.#schedule();
      }
    };
    sub.on('close', down);
    sub.on('error', down);
  }

  /** Loads revocations made since `since` (minus the overlap) from the store. */
  async #load(since: number): Promise<void> {
    const started = Date.now();
    try {
      this.list.add(await this.#store.oauth2Tokens.revokedSince(since === 0 ? 0 : since - OVERLAP_MS, started));
      this.#lastPoll = Math.max(this.#lastPoll, started);
      if (!this.#storeOk) this.#logger.info('oauth2: revocation feed reads the store again');
      this.#storeOk = true;
    } catch (err) {
      if (this.#storeOk) this.#logger.warn({ err }, 'oauth2: revocation feed cannot read the store; keeping the revocations it has');
      this.#storeOk = false;
    }
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#pollTimer = setTimeout(
      () => {
        this.#polling = true;
        void this.#load(this.#lastPoll).then(() => {
          this.#polling = false;
          this.#schedule();
        });
      },
      this.#live ? POLL_LIVE_MS : POLL_DOWN_MS,
    );
    this.#pollTimer.unref();
  }

  async #purge(): Promise<void> {
    const now = Date.now();
    this.list.sweep(now);
    try {
      await this.#store.oauth2Tokens.purgeExpired(now);
    } catch (err) {
      this.#logger.warn({ err }, 'oauth2: could not purge expired codes and tokens');
    }
  }

  /**
   * Tokens just revoked in the store: refused here at once, and on every replica by the time
   * this resolves (callers await it before answering, so "revoked" means revoked everywhere).
   * PUBLISH answering is not enough for that: Redis writes the publisher's reply before the
   * subscribers' copies. So this also sends a PING after it and waits for the answer: Redis
   * writes every copy of the message in the event-loop turn that ran PUBLISH, and the PING's
   * reply in a later one, so every subscriber's socket has the message first whatever order
   * they subscribed in. It also waits (up to 250 ms) until this replica's own subscription hears
   * the message. A request sent after our answer reaches another replica after the message.
   * Never rejects.
   */
  async announce(tokens: readonly RevokedToken[]): Promise<void> {
    if (tokens.length === 0) return;
    this.list.add(tokens);
    if (this.#pub === null) return;
    const message = encode(tokens);
    const echoed = this.#live ? this.#hear(message) : null;
    try {
      await this.#pub.publish(CHANNEL, message);
      await this.#pub.ping();
    } catch (err) {
      this.#logger.warn({ err, count: tokens.length }, 'oauth2: could not publish revocations on Redis; other replicas will read them from the store');
      return;
    }
    if (echoed !== null) await echoed;
  }

  /** Resolves when the subscription hears `message`, or after ECHO_WAIT_MS. */
  #hear(message: string): Promise<void> {
    return new Promise((resolve) => {
      const heard = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const waiting = this.#echoes.get(message);
        const rest = waiting?.filter((w) => w !== heard) ?? [];
        if (rest.length > 0) this.#echoes.set(message, rest);
        else this.#echoes.delete(message);
        resolve();
      }, ECHO_WAIT_MS);
      timer.unref();
      const waiting = this.#echoes.get(message);
      if (waiting === undefined) this.#echoes.set(message, [heard]);
      else waiting.push(heard);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#pollTimer) clearTimeout(this.#pollTimer);
    clearInterval(this.#purgeTimer);
    this.#sub?.disconnect();
    this.#pub?.disconnect();
  }
}
