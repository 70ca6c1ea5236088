import { afterAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startGateway, type GatewayProcess } from './helpers/gateway.js';
import { startRedis, type RedisServer } from './helpers/redis.js';
import { startPostgres, type PostgresServer } from './helpers/postgres.js';
import { waitFor } from './helpers/ports.js';

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await request(url);
  return { status: res.statusCode, body: await res.body.text() };
}

interface Report {
  database: { reachable: boolean; kind: string };
  redis: { reachable: boolean; configured: boolean };
  server: { connections_active: number; total_requests: number };
}

/** SPEC §9: /health/ready is 503 while a configured dependency is down, 200 again after. */
describe('status listener health', { timeout: 120_000 }, () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  it('ready follows Redis: 503 while it is down, 200 once it is back; live stays 200', async () => {
    const redis: RedisServer = await startRedis();
    cleanup.push(() => redis.stop());
    const gw: GatewayProcess = await startGateway({ gateway: { redis: redis.url }, plugins: [{ name: 'prometheus' }] });
    cleanup.push(() => gw.stop());
    await waitFor(async () => (await get(`${gw.statusUrl}/health/ready`)).status === 200, 'ready with Redis up');

    await redis.kill();
    const down = await waitFor(async () => {
      const r = await get(`${gw.statusUrl}/health/ready`);
      return r.status === 503 ? r : undefined;
    }, 'not ready with Redis down');
    expect(JSON.parse(down.body)).toEqual({ status: 'not ready', reasons: ['redis unreachable'] });
    expect((await get(`${gw.statusUrl}/health/live`)).status).toBe(200);
    const report = JSON.parse((await get(`${gw.statusUrl}/status`)).body) as Report;
    expect(report.redis).toEqual({ reachable: false, configured: true });
    expect(report.database.reachable).toBe(true);

    await redis.restart();
    await waitFor(async () => (await get(`${gw.statusUrl}/health/ready`)).status === 200, 'ready again with Redis back');
  });

  it('ready and kong_datastore_reachable follow PostgreSQL', async () => {
    const pg: PostgresServer = await startPostgres();
    cleanup.push(() => pg.stop());
    const gw = await startGateway({ gateway: { store: pg.url }, plugins: [{ name: 'prometheus' }] });
    cleanup.push(() => gw.stop());
    expect((await get(`${gw.statusUrl}/health/ready`)).status).toBe(200);
    expect((await get(`${gw.statusUrl}/metrics`)).body).toMatch(/^kong_datastore_reachable 1$/m);

    await pg.stop();
    const down = await waitFor(async () => {
      const r = await get(`${gw.statusUrl}/health/ready`);
      return r.status === 503 ? r : undefined;
    }, 'not ready with PostgreSQL down');
    expect(JSON.parse(down.body).reasons).toContain('store unreachable');
    expect((await get(`${gw.statusUrl}/health/live`)).status).toBe(200);
    expect((await get(`${gw.statusUrl}/metrics`)).body).toMatch(/^kong_datastore_reachable 0$/m);
    const report = JSON.parse((await get(`${gw.statusUrl}/status`)).body) as Report;
    expect(report.database).toEqual({ reachable: false, kind: 'postgres' });
  });

  it('a PostgreSQL that stops answering (SIGSTOP) reads as unreachable within a probe timeout, no hang', async () => {
    const pg: PostgresServer = await startPostgres();
    cleanup.push(() => pg.stop());
    const gw = await startGateway({ gateway: { store: pg.url }, plugins: [{ name: 'prometheus' }] });
    cleanup.push(() => gw.stop());
    expect((await get(`${gw.statusUrl}/health/ready`)).status).toBe(200);
    pg.freeze();
    try {
      // The deployment's probes give up after 2 s (deploy/kubernetes: timeoutSeconds: 2).
      const probe = (path: string) => request(`${gw.statusUrl}${path}`, { headersTimeout: 2000, bodyTimeout: 2000 }).then(async (r) => ({ status: r.statusCode, body: await r.body.text() }));
      const [ready, again, status, metrics] = await Promise.all([probe('/health/ready'), probe('/health/ready'), probe('/status'), probe('/metrics')]);
      expect([ready.status, again.status]).toEqual([503, 503]);
      expect(JSON.parse(ready.body).reasons).toContain('store unreachable');
      expect((JSON.parse(status.body) as Report).database.reachable).toBe(false);
      expect(metrics.body).toMatch(/^kong_datastore_reachable 0$/m);
      const admin = await request(`${gw.adminUrl}/status`, { headersTimeout: 2000 });
      expect(admin.statusCode).toBe(200);
      await admin.body.dump();
    } finally {
      pg.thaw();
    }
    await waitFor(async () => (await get(`${gw.statusUrl}/health/ready`)).status === 200, 'ready once PostgreSQL answers again');
  });
});
