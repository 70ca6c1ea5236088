import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startGateway, type GatewayProcess } from '../../../test/helpers/gateway.js';
import { sharedRedisUrl } from '../../../test/helpers/redis.js';
import { freshDatabase } from '../../../test/helpers/postgres.js';
import { waitFor } from '../../../test/helpers/ports.js';
import { awayFromWindowEdge, count, send, unique, waitReady, type Reply } from '../../../test/helpers/limits.js';
import { startDemoUpstreams, type DemoUpstreams } from '../../demo/index.js';

/**
 * Three gateway processes on one Redis (and one PostgreSQL): limits and budgets are exact across replicas, for a
 * burst that arrives on all of them at once.
 */
describe('three replicas on one Redis', () => {
  let demo: DemoUpstreams;
  const gws: GatewayProcess[] = [];
  const ws = unique('ws-burst');

  beforeAll(async () => {
    demo = await startDemoUpstreams();
    const config = {
      // N replicas: shared counters (Redis) and a shared store (PostgreSQL), as SPEC §12 says
      gateway: { redis: sharedRedisUrl(), store: await freshDatabase('rl') },
      services: [
        {
          name: 'llm',
          url: demo.openai,
          routes: [
            { name: 'sliding', paths: ['/sliding'], plugins: [{ name: 'rate-limiting', instance_name: unique('burst-sliding'), config: { hour: 30, limit_by: 'ip' } }] },
            { name: 'fixed', paths: ['/fixed'], plugins: [{ name: 'rate-limiting', instance_name: unique('burst-fixed'), config: { hour: 30, limit_by: 'ip', window_type: 'fixed' } }] },
            {
              name: 'layers',
              paths: ['/layers'],
              plugins: [
                { name: 'rate-limiting', instance_name: unique('layer-ip'), config: { day: 1000, limit_by: 'ip' } },
                { name: 'rate-limiting', instance_name: unique('layer-caller'), config: { hour: 4, limit_by: 'header', header_name: 'X-Caller' } },
              ],
            },
            { name: 'per-second', paths: ['/per-second'], plugins: [{ name: 'rate-limiting', instance_name: unique('per-second'), config: { second: 1000, limit_by: 'ip', window_type: 'fixed' } }] },
            { name: 'budget', paths: ['/budget'], plugins: [{ name: 'token-budget', config: { day: 1_000_000, membership: 'open' } }] },
          ],
        },
      ],
    };
    gws.push(...(await Promise.all([startGateway(config), startGateway(config), startGateway(config)])));
    await Promise.all(gws.map(waitReady));
  });
  afterAll(async () => {
    await Promise.all(gws.map((g) => g.stop()));
    await demo?.close();
  });

  /** `n` concurrent requests, spread round-robin over the three gateways. */
  const burst = (n: number, path: string, opts: Parameters<typeof send>[1] = {}): Promise<Reply[]> =>
    Promise.all(Array.from({ length: n }, (_, i) => send(`${gws[i % gws.length]!.url}${path}`, opts)));

  for (const kind of ['sliding', 'fixed']) {
    it(`${kind} window: a concurrent burst of 45 admits exactly 30`, async () => {
      await awayFromWindowEdge(3_600_000, 30_000);
      const replies = await burst(45, `/${kind}/v1/models`);
      expect(count(replies, 200)).toBe(30);
      expect(count(replies, 429)).toBe(15);
    });
  }

  it('X-RateLimit-Reset names the second the window ends, read on Redis\'s clock (not one second late)', async () => {
    // A fixed one-second window ends on the next whole second after the decision, which was made
    // between sending and receiving: the header must be one of those seconds, never the one after.
    for (let i = 0; i < 40; i++) {
      const sent = Date.now();
      const r = await send(`${gws[i % gws.length]!.url}/per-second/v1/models`);
      const received = Date.now();
      const reset = Number(r.headers['x-ratelimit-reset']);
      expect(reset, `request ${i}`).toBeGreaterThanOrEqual(Math.floor(sent / 1000) + 1);
      expect(reset, `request ${i}`).toBeLessThanOrEqual(Math.floor(received / 1000) + 1);
    }
  });

  it('a burst refused by one layer consumes nothing from the other, on every replica', async () => {
    await awayFromWindowEdge(86_400_000, 30_000);
    const replies = await burst(12, '/layers/v1/models', { headers: { 'X-Caller': 'mallory' } });
    expect(count(replies, 200)).toBe(4);
    expect(count(replies, 429)).toBe(8);
    const probe = await send(`${gws[1]!.url}/layers/v1/models`, { headers: { 'X-Caller': 'trent' } });
    expect(probe.status).toBe(200);
    expect(probe.headers['x-ratelimit-remaining-hour']).toBe('3');
    // per IP: mallory's 4 admitted requests and trent's; the 8 refused ones counted nowhere
    expect(probe.headers['x-ratelimit-remaining-day']).toBe(String(1000 - 5));
  });

  it('40 concurrent requests against a budget that fits 10 never overspend', async () => {
    // The demo's reply is longer than 5 tokens and its prompt count is src/ai's estimate, so
    // every request uses exactly what it reserves: exactly 10 fit.
    const body = { model: 'llama-3.3-8b-instruct', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 5 };
    const warm = await send(`${gws[0]!.url}/budget/v1/chat/completions`, { headers: { 'X-Workspace-Id': unique('ws-warm') }, body });
    const perRequest = (JSON.parse(warm.body) as { usage: { total_tokens: number } }).usage.total_tokens;
    const limit = 10 * perRequest + Math.floor(perRequest / 2);
    const put = await request(`${gws[1]!.adminUrl}/workspaces/${ws}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token_budget_day: limit }) });
    expect(put.statusCode).toBe(200);
    await put.body.text();

    const replies = await burst(40, '/budget/v1/chat/completions', { headers: { 'X-Workspace-Id': ws }, body });
    expect(count(replies, 200)).toBe(10);
    expect(count(replies, 429)).toBe(30);
    const view = await waitFor(async () => {
      const res = await request(`${gws[2]!.adminUrl}/workspaces/${ws}`);
      const v = (await res.body.json()) as { used: number; reserved: number; limit: number };
      return v.reserved === 0 ? v : undefined;
    }, 'budget settled');
    expect(view.limit).toBe(limit);
    expect(view.used).toBe(10 * perRequest);
    expect(view.used).toBeLessThanOrEqual(limit);
  });
});
