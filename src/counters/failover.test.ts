import { Redis } from 'ioredis';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '../../test/helpers/redis.js';
import { waitFor } from '../../test/helpers/ports.js';
import { createCounterStore, CountersUnavailableError, type RoutedCounterStore } from './index.js';
import { RedisCounters } from './redis.js';
import { budgetClaim, collectingLogger, uniquePrefix, windowClaim } from './test/claims.js';

/** Proves a promise settles within `ms` (a hang fails the test instead of timing it out). */
async function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, guard]);
  } finally {
    clearTimeout(timer);
  }
}

describe('Redis outage', () => {
  let redis: RedisServer;
  let store: RoutedCounterStore;
  const { logger, lines } = collectingLogger();
  const warnings = () => lines.filter((l) => l.level === 40);

  beforeAll(async () => {
    redis = await startRedis();
    store = createCounterStore({ redisUrl: redis.url, keyPrefix: uniquePrefix('failover'), logger });
    expect(await store.waitReady(5000)).toBe(true);
  });

  afterAll(async () => {
    await store.close();
    await redis.stop();
  });

  const tolerant = windowClaim('ft', 5);
  const strict = windowClaim('strict', 5, { faultTolerant: false });

  it('counts in Redis while it is up', async () => {
    expect(await store.ping()).toBe(true);
    const r = await store.admit([tolerant, strict]);
    expect(r).toMatchObject({ admitted: true, degraded: false, states: [{ remaining: 4 }, { remaining: 4 }] });
  });

  it('keeps limiting fault-tolerant claims in-process when Redis dies, and fails strict ones fast', async () => {
    await redis.kill();
    // Fault-tolerant: served in-process (fresh in-process counters), still limited.
    const results = [];
    for (let n = 0; n < 8; n++) results.push(await within(1000, store.admit([tolerant])));
    expect(results.every((r) => r.degraded)).toBe(true);
    expect(results.filter((r) => r.admitted)).toHaveLength(5);
    expect(results[7]).toMatchObject({ admitted: false, refusedIndex: 0, states: [{ remaining: 0 }] });

    // Not fault-tolerant (alone or with others): CountersUnavailableError, no hang.
    await expect(within(1000, store.admit([strict]))).rejects.toBeInstanceOf(CountersUnavailableError);
    await expect(within(1000, store.admit([windowClaim('other', 5), strict]))).rejects.toBeInstanceOf(CountersUnavailableError);
    // Local claims are not affected.
    expect(await store.admit([windowClaim('loc', 1, { policy: 'local', faultTolerant: false })])).toMatchObject({ admitted: true, degraded: false });

    // Budgets keep working in-process too.
    const b = budgetClaim('ws', 100, 60, 'req-1');
    expect(await within(1000, store.admit([b]))).toMatchObject({ admitted: true, degraded: true });
    expect(await within(1000, store.settle(b, 70))).toEqual({ used: 70, reserved: 0 });
    await expect(within(1000, store.budgetUsage('ws', 'redis'))).rejects.toBeInstanceOf(CountersUnavailableError);

    expect(await within(1000, store.ping())).toBe(false);
    expect(store.degraded).toBe(true);
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0].msg).toMatch(/Redis unreachable/);
  });

  it('uses Redis again once it is back, and says so once', async () => {
    await redis.restart();
    await waitFor(() => store.ping(), 'counters to reconnect', 10_000);
    const r = await store.admit([tolerant, strict]);
    // The restarted server has no data (no persistence): Redis counts start over.
    expect(r).toMatchObject({ admitted: true, degraded: false, states: [{ remaining: 4 }, { remaining: 4 }] });
    expect(warnings()).toHaveLength(1);
    expect(lines.filter((l) => l.level === 30 && /reachable again/.test(l.msg))).toHaveLength(1);
  });

  it('does not hang on a Redis that accepts connections but stops answering', async () => {
    const probe = new Redis(redis.url);
    const info = await probe.info('server');
    probe.disconnect();
    const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, 'SIGSTOP');
    try {
      await expect(within(1000, store.admit([strict]))).rejects.toBeInstanceOf(CountersUnavailableError);
      expect(await within(1000, store.admit([tolerant]))).toMatchObject({ degraded: true });
      await expect(within(1000, store.admit([strict]))).rejects.toBeInstanceOf(CountersUnavailableError);
      expect(await within(1000, store.ping())).toBe(false);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await waitFor(() => store.ping(), 'counters to reconnect', 10_000);
    expect(await store.admit([tolerant])).toMatchObject({ admitted: true, degraded: false });
    expect(warnings()).toHaveLength(2);
  });

  it('fails strict claims fast while Redis is not even reachable at startup', async () => {
    const down = await startRedis();
    await down.stop();
    const cold = createCounterStore({ redisUrl: down.url, keyPrefix: uniquePrefix('cold') });
    try {
      expect(await cold.waitReady(300)).toBe(false);
      await expect(within(1000, cold.admit([strict]))).rejects.toBeInstanceOf(CountersUnavailableError);
      expect(await within(1000, cold.admit([tolerant]))).toMatchObject({ admitted: true, degraded: true });
      expect(await cold.ping()).toBe(false);
    } finally {
      await within(1000, cold.close());
    }
  });
});

/** A TCP forwarder whose target can be switched: one address in front of two Redis servers. */
async function switchable(target: number): Promise<{ url: string; switchTo(port: number): void; close(): Promise<void> }> {
  let to = target;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(to, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}/0`,
    switchTo: (port) => {
      to = port; // new connections only, as a Service or a Sentinel-aware proxy does after a failover
    },
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

async function redisPid(url: string): Promise<number> {
  const probe = new Redis(url);
  const pid = Number(/process_id:(\d+)/.exec(await probe.info('server'))?.[1]);
  probe.disconnect();
  return pid;
}

/** Runs `fn` while the Redis server is stopped (SIGSTOP: a server that accepts but never answers). */
async function whilePaused<T>(pid: number, fn: () => Promise<T>): Promise<T> {
  process.kill(pid, 'SIGSTOP');
  try {
    return await fn();
  } finally {
    process.kill(pid, 'SIGCONT');
  }
}

describe('a settlement that cannot reach Redis', () => {
  it('is sent again once Redis answers: the shared budget is charged and its reservation freed; never twice', async () => {
    const own = await startRedis();
    const { logger } = collectingLogger();
    const prefix = uniquePrefix('unsettled');
    const store = createCounterStore({ redisUrl: own.url, keyPrefix: prefix, logger });
    const pid = await redisPid(own.url);
    try {
      expect(await store.waitReady(5000)).toBe(true);
      const claim = budgetClaim('ws-blip', 1000, 100, 'r1');
      expect((await store.admit([claim])).admitted).toBe(true);
      // A blip while the response ends; fault-tolerant: answered in-process.
      await whilePaused(pid, () => within(2000, store.settle(claim, 40)));
      const usage = await waitFor(async () => {
        const u = await store.budgetUsage('ws-blip', 'redis').catch(() => null);
        return u !== null && u.reserved === 0 ? u : undefined;
      }, 'the settlement sent again', 10_000);
      expect(usage).toEqual({ used: 40, reserved: 0 });
      // Sent again after a call that did run (its reply lost): charged nothing the second time.
      const direct = new RedisCounters({ url: own.url, keyPrefix: prefix });
      expect(await direct.waitReady(5000)).toBe(true);
      const second = budgetClaim('ws-blip', 1000, 100, 'r2');
      await direct.admit([second], true);
      await direct.settle(second, 7);
      expect(await direct.settleAgain([{ claim: second, actual: 7 }])).toEqual([{ used: 47, reserved: 0 }]);
      expect(await store.budgetUsage('ws-blip', 'redis')).toEqual({ used: 47, reserved: 0 });
      // Redis away for longer than the reservation's TTL: it lapsed (and was purged by the next
      // admission), and the settlement sent again afterwards is still charged, once.
      const third = budgetClaim('ws-blip', 1000, 100, 'r3', { reservationTtlMs: 300 });
      await direct.admit([third], true);
      await new Promise((r) => setTimeout(r, 500));
      await direct.admit([budgetClaim('ws-blip', 1000, 100, 'r4')], false); // purges r3
      expect(await direct.settleAgain([{ claim: third, actual: 5 }])).toEqual([{ used: 52, reserved: 0 }]);
      expect(await direct.settleAgain([{ claim: third, actual: 5 }])).toEqual([{ used: 52, reserved: 0 }]);
      await direct.close();
    } finally {
      await store.close();
      await own.stop();
    }
  });

  it('a release that cannot reach Redis (an upstream error, a client gone) is sent again too: the reservation does not hold the budget for its TTL', async () => {
    const own = await startRedis();
    const { logger } = collectingLogger();
    const store = createCounterStore({ redisUrl: own.url, keyPrefix: uniquePrefix('unreleased'), logger });
    const pid = await redisPid(own.url);
    try {
      expect(await store.waitReady(5000)).toBe(true);
      const claim = budgetClaim('ws-release', 1000, 800, 'r1');
      expect((await store.admit([claim])).admitted).toBe(true);
      await whilePaused(pid, () => within(2000, store.release(claim)));
      const usage = await waitFor(async () => {
        const u = await store.budgetUsage('ws-release', 'redis').catch(() => null);
        return u !== null && u.reserved === 0 ? u : undefined;
      }, 'the release sent again', 10_000);
      expect(usage).toEqual({ used: 0, reserved: 0 });
    } finally {
      await store.close();
      await own.stop();
    }
  });
});

describe('Redis failover behind one address', () => {
  it('a demoted master (READONLY) is left for the new one: counting is shared again, and ready says so meanwhile', async () => {
    const [a, b] = [await startRedis(), await startRedis()];
    const front = await switchable(a.port);
    const { logger } = collectingLogger();
    const prefix = uniquePrefix('readonly');
    const store = createCounterStore({ redisUrl: front.url, keyPrefix: prefix, logger });
    try {
      expect(await store.waitReady(5000)).toBe(true);
      const claim = windowClaim('fo', 100, { faultTolerant: false });
      expect(await store.admit([claim])).toMatchObject({ admitted: true, degraded: false });
      // The failover: b is the master now, a (still answering through the old connection) a replica.
      front.switchTo(b.port);
      const demote = new Redis(a.url);
      await demote.call('REPLICAOF', '127.0.0.1', String(b.port));
      demote.disconnect();
      // Strict claims fail (503) while the store finds its way; then they count in b.
      const admitted = await waitFor(async () => {
        try {
          return (await store.admit([claim])).admitted || undefined;
        } catch {
          return undefined;
        }
      }, 'admissions on the new master', 10_000);
      expect(admitted).toBe(true);
      const onB = new Redis(b.url);
      expect((await onB.keys(`${prefix}*`)).length).toBeGreaterThan(0); // counted in b
      onB.disconnect();
      expect(await store.ping()).toBe(true);
      // And a store that can only reach the replica is not ready.
      const stuck = createCounterStore({ redisUrl: a.url, keyPrefix: uniquePrefix('readonly-stuck'), logger });
      expect(await stuck.waitReady(5000)).toBe(true);
      expect(await stuck.ping()).toBe(false);
      await stuck.close();
    } finally {
      await store.close();
      await front.close();
      await a.stop();
      await b.stop();
    }
  });
});
