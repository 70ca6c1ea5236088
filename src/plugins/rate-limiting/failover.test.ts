import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startGateway, type GatewayProcess } from '../../../test/helpers/gateway.js';
import { startRedis, type RedisServer } from '../../../test/helpers/redis.js';
import { waitFor } from '../../../test/helpers/ports.js';
import { awayFromWindowEdge, header, send, waitReady } from '../../../test/helpers/limits.js';
import { startDemoUpstreams, type DemoUpstreams } from '../../demo/index.js';

/**
 * Redis dies in the middle of the test and comes back: fault-tolerant limits keep limiting with
 * in-process counters, strict ones answer 503, and shared counting resumes when Redis returns.
 */
describe('Redis outage and recovery', () => {
  let redis: RedisServer;
  let demo: DemoUpstreams;
  let gw1: GatewayProcess;
  let gw2: GatewayProcess;
  const chat = { model: 'llama-3.3-8b-instruct', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 5 };

  beforeAll(async () => {
    redis = await startRedis();
    demo = await startDemoUpstreams();
    const route = (name: string, plugins: unknown[]) => ({ name, paths: [`/${name}`], plugins });
    const config = {
      gateway: { redis: redis.url },
      services: [
        {
          name: 'llm',
          url: demo.openai,
          routes: [
            route('tolerant', [{ name: 'rate-limiting', config: { hour: 5, limit_by: 'header', header_name: 'X-Caller' } }]),
            route('strict', [{ name: 'rate-limiting', config: { hour: 1000, limit_by: 'ip', fault_tolerant: false } }]),
            route('budget', [{ name: 'token-budget', config: { day: 100_000, membership: 'open' } }]),
            route('strict-budget', [{ name: 'token-budget', instance_name: 'strict', config: { day: 100_000, membership: 'open', fault_tolerant: false } }]),
          ],
        },
      ],
    };
    [gw1, gw2] = await Promise.all([startGateway(config), startGateway(config)]);
    await Promise.all([waitReady(gw1), waitReady(gw2)]);
  });
  afterAll(async () => {
    await Promise.all([gw1?.stop(), gw2?.stop()]);
    await demo?.close();
    await redis?.stop();
  });

  const calls = async (caller: string, n: number, gws: GatewayProcess[]) => {
    const statuses: number[] = [];
    for (let i = 0; i < n; i++) statuses.push((await send(`${gws[i % gws.length]!.url}/tolerant/v1/models`, { headers: { 'X-Caller': caller } })).status);
    return statuses;
  };
  const ready = async (gw: GatewayProcess) => (await request(`${gw.statusUrl}/health/ready`)).statusCode;

  it('limits are shared through Redis, lost with it (in-process limiting, 503 for strict limits), and shared again once it is back', async () => {
    await awayFromWindowEdge(3_600_000, 60_000);
    // Shared: requests alternate between the two replicas and one counter limits them.
    expect(await calls('alice', 6, [gw1, gw2])).toEqual([200, 200, 200, 200, 200, 429]);

    await redis.kill();
    // Each replica keeps limiting on its own (fresh in-process counts).
    expect(await calls('bob', 6, [gw1])).toEqual([200, 200, 200, 200, 200, 429]);
    const strict = await send(`${gw1.url}/strict/v1/models`);
    expect(strict.status).toBe(503);
    expect(JSON.parse(strict.body)).toMatchObject({ message: 'Rate-limit counters are unavailable, try again later' });
    expect(header(strict, 'Retry-After')).toBe('1');
    expect(await ready(gw1)).toBe(503);
    // Budgets: fault-tolerant ones account in-process; strict ones refuse; the Admin API will not guess.
    expect((await send(`${gw1.url}/budget/v1/chat/completions`, { headers: { 'X-Workspace-Id': 'ws-out' }, body: chat })).status).toBe(200);
    expect((await send(`${gw1.url}/strict-budget/v1/chat/completions`, { headers: { 'X-Workspace-Id': 'ws-out' }, body: chat })).status).toBe(503);
    expect((await request(`${gw1.adminUrl}/workspaces/ws-out`)).statusCode).toBe(503);

    await redis.restart();
    await waitFor(async () => (await ready(gw1)) === 200 && (await ready(gw2)) === 200, 'both replicas see Redis again');
    expect(await calls('carol', 6, [gw1, gw2])).toEqual([200, 200, 200, 200, 200, 429]);
    expect((await send(`${gw2.url}/strict/v1/models`)).status).toBe(200);
    const budget = await send(`${gw2.url}/budget/v1/chat/completions`, { headers: { 'X-Workspace-Id': 'ws-back' }, body: chat });
    expect(budget.status).toBe(200);
    const view = await waitFor(async () => {
      const res = await request(`${gw1.adminUrl}/workspaces/ws-back`);
      const v = (await res.body.json()) as { used: number; reserved: number };
      return v.reserved === 0 ? v : undefined;
    }, 'ws-back settled');
    expect(view.used).toBe((JSON.parse(budget.body) as { usage: { total_tokens: number } }).usage.total_tokens);
  });
});
