import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgentRouter } from './agentRouter.js';
import type { DemoServer } from './demoHttp.js';

let server: DemoServer;
beforeAll(async () => {
  server = await startAgentRouter();
});
afterAll(() => server.close());

describe('demo agent router', () => {
  it('invokes an agent and reports its tools in X-Tools-Used', async () => {
    const res = await fetch(`${server.url}/v1/agents/research/invoke`, { method: 'POST', body: JSON.stringify({ input: 'What is 2+2?' }), headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-tools-used')).toBe('search,calculator');
    expect(await res.json()).toEqual({ agent: 'research', output: 'Agent research handled: What is 2+2?' });
  });

  it('lists agents, answers any /v1/agents/* path, honours x-demo-tools-used', async () => {
    const list = (await (await fetch(`${server.url}/v1/agents`)).json()) as { agents: Array<{ name: string }> };
    expect(list.agents.map((agent) => agent.name)).toEqual(['research', 'support']);
    const res = await fetch(`${server.url}/v1/agents/support/chat`, { method: 'POST', body: 'plain text', headers: { 'x-demo-tools-used': 'search' } });
    expect(res.headers.get('x-tools-used')).toBe('search');
    const none = await fetch(`${server.url}/v1/agents/support`, { headers: { 'x-demo-tools-used': '' } });
    expect(none.headers.has('x-tools-used')).toBe(false);
  });

  it('records the last request and honours x-demo-status', async () => {
    const failed = await fetch(`${server.url}/v1/agents/research/invoke`, { method: 'POST', body: '{"input":"x"}', headers: { 'x-demo-status': '502', 'x-user-id': 'u1' } });
    expect(failed.status).toBe(502);
    const last = (await (await fetch(`${server.url}/debug/last-request`)).json()) as { path: string; headers: Record<string, string>; body: unknown };
    expect(last).toMatchObject({ path: '/v1/agents/research/invoke', body: { input: 'x' } });
    expect(last.headers['x-user-id']).toBe('u1');
  });
});
