import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { request } from 'undici';
import { Redis } from 'ioredis';
import { startGateway, type GatewayProcess } from '../../../test/helpers/gateway.js';
import { startRedis, type RedisServer } from '../../../test/helpers/redis.js';
import { waitReady } from '../../../test/helpers/limits.js';
import { startDemoUpstreams, type DemoUpstreams } from '../../demo/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Keeps Redis busy for `ms` (a Lua loop: every other client waits). */
const BUSY = "local t=redis.call('TIME') repeat local n=redis.call('TIME') until (n[1]-t[1])*1000000+(n[2]-t[2]) > tonumber(ARGV[1]) * 1000 return 1";

/**
 * A client that hangs up while its admission is still waiting for Redis: its reservation must
 * be released once the admission comes back, not held (and renewed) for the rest of the day.
 */
describe('token-budget with a slow Redis', () => {
  let redis: RedisServer;
  let demo: DemoUpstreams;
  let gw: GatewayProcess;
  let busy: Redis;

  beforeAll(async () => {
    redis = await startRedis();
    demo = await startDemoUpstreams();
    gw = await startGateway({
      gateway: { redis: redis.url },
      services: [{ name: 'llm', url: demo.openai, routes: [{ name: 'budget', paths: ['/budget'], plugins: [{ name: 'token-budget', config: { day: 100_000, membership: 'open' } }] }] }],
    });
    await waitReady(gw);
    busy = new Redis(redis.url);
  });
  afterAll(async () => {
    busy?.disconnect();
    await gw?.stop();
    await demo?.close();
    await redis?.stop();
  });

  const view = async (ws: string) => (await (await request(`${gw.adminUrl}/workspaces/${ws}`)).body.json()) as { used: number; reserved: number };

  it('a client that leaves while its admission waits keeps nothing reserved', async () => {
    const ws = `ws-left-${Date.now()}`;
    const body = JSON.stringify({ model: 'llama-3.3-8b-instruct', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 5000 });
    const { port } = new URL(gw.url);
    for (let i = 0; i < 3; i++) {
      const held = busy.eval(BUSY, 0, 200);
      await sleep(20);
      const socket = net.connect(Number(port), '127.0.0.1', () => {
        socket.write(`POST /budget/v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nx-workspace-id: ${ws}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
        setTimeout(() => socket.destroy(), 50); // gone before Redis answers the admission
      });
      socket.on('error', () => {});
      await held;
      await sleep(100);
    }
    await sleep(300);
    expect(await view(ws)).toMatchObject({ used: 0, reserved: 0 });
    // and the budget is whole for the next caller
    const res = await request(`${gw.url}/budget/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-workspace-id': ws }, body });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
  });
});
