import { startPostgres, type PostgresServer } from './postgres.js';
import { startRedis, type RedisServer } from './redis.js';

/**
 * Starts one private Redis and one private PostgreSQL for the whole run, unless the developer
 * or CI points at their own with TOLLGATE_TEST_REDIS_URL / TOLLGATE_TEST_DATABASE_URL. Test
 * files isolate themselves (own database via freshDatabase(), own Redis key prefix). Tests that
 * kill Redis start a private one with startRedis().
 */
export default async function setup(): Promise<() => Promise<void>> {
  let redis: RedisServer | null = null;
  let postgres: PostgresServer | null = null;
  if (!process.env.TOLLGATE_TEST_REDIS_URL) {
    redis = await startRedis();
    process.env.TOLLGATE_TEST_REDIS_URL = redis.url;
  }
  if (!process.env.TOLLGATE_TEST_DATABASE_URL) {
    postgres = await startPostgres();
    process.env.TOLLGATE_TEST_DATABASE_URL = postgres.url;
  }
  return async () => {
    await redis?.stop();
    await postgres?.stop();
  };
}
