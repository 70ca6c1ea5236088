import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '../../test/helpers/redis.js';
import { waitFor } from '../../test/helpers/ports.js';
import { RevocationFeed } from './revocationFeed.js';
import type { Store } from '../store/types.js';

/** A store that has no revocations of its own: everything here travels through Redis. */
const store = { oauth2Tokens: { revokedSince: async () => [], purgeExpired: async () => {} } } as unknown as Store;
const logger = pino({ level: 'silent' });

describe('RevocationFeed on Redis', () => {
  let redis: RedisServer;
  const feeds: RevocationFeed[] = [];

  beforeAll(async () => {
    redis = await startRedis();
  });

  afterAll(async () => {
    await Promise.all(feeds.map((f) => f.close()));
    await redis.stop();
  });

  it('a revocation announced on one replica is known on the others when the announcement resolves', async () => {
    const feed = () => {
      const f = new RevocationFeed({ store, redisUrl: redis.url, logger });
      feeds.push(f);
      return f;
    };
    // The announcer subscribes last: Redis writes a message's copies in reverse order of
    // subscription, so a's own copy goes out before b's and c's (its echo alone proves nothing).
    const [b, c] = [feed(), feed()];
    await waitFor(async () => {
      await b!.announce([{ jti: 'probe-bc', expires_at: Date.now() + 60_000 }]);
      return c!.list.has('probe-bc');
    }, 'b and c subscribed', 5000);
    const a = feed();
    // All three subscribed: a probe announced by a reaches b and c.
    await waitFor(async () => {
      await a.announce([{ jti: 'probe', expires_at: Date.now() + 60_000 }]);
      return b!.list.has('probe') && c!.list.has('probe');
    }, 'all three feeds subscribed', 5000);
    for (let n = 0; n < 100; n++) {
      const jti = `jti-${n}`;
      await a.announce([{ jti, expires_at: Date.now() + 60_000 }]);
      // The caller answers "revoked" now; the client's next request may go to any replica,
      // whose event loop reads it after what its subscription already has: one turn here.
      await new Promise((r) => setImmediate(r));
      expect([a.list.has(jti), b!.list.has(jti), c!.list.has(jti)]).toEqual([true, true, true]);
    }
  });

  it('when Redis goes away, the store is polled every second at once, not after the 10 s poll armed while live', async () => {
    const own = await startRedis();
    const revoked: Array<{ jti: string; expires_at: number }> = [];
    let polls = 0;
    const polled = {
      oauth2Tokens: {
        revokedSince: async () => {
          polls++;
          return [...revoked];
        },
        purgeExpired: async () => {},
      },
    } as unknown as Store;
    const f = new RevocationFeed({ store: polled, redisUrl: own.url, logger });
    feeds.push(f);
    await waitFor(async () => {
      await f.announce([{ jti: 'probe-live', expires_at: Date.now() + 60_000 }]);
      return f.list.has('probe-live');
    }, 'subscribed', 5000);
    // The poll armed before the subscription (1 s) has run while live: the next is 10 s ahead.
    const before = polls;
    await new Promise((r) => setTimeout(r, 1500));
    expect(polls).toBeGreaterThan(before);
    await own.stop();
    // Revoked on another replica meanwhile: its announcement failed, the store has it.
    revoked.push({ jti: 'while-down', expires_at: Date.now() + 60_000 });
    await waitFor(() => f.list.has('while-down') || undefined, 'the revocation read from the store', 3000);
  });
});
