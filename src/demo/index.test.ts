import { describe, expect, it } from 'vitest';
import { startDemoUpstreams } from './index.js';

describe('startDemoUpstreams', () => {
  it('starts the three demo upstreams and closes them', async () => {
    const demo = await startDemoUpstreams();
    try {
      expect((await fetch(`${demo.openai}/v1/models`)).status).toBe(200);
      expect((await fetch(`${demo.agentRouter}/v1/agents`)).status).toBe(200);
      expect((await fetch(`${demo.mcp}/mcp`)).status).toBe(405);
    } finally {
      await demo.close();
    }
    await expect(fetch(`${demo.openai}/v1/models`)).rejects.toThrow();
  });

  it('fails cleanly when a port is taken, closing what it started', async () => {
    const first = await startDemoUpstreams();
    try {
      await expect(startDemoUpstreams({ mcp: { port: first.servers.mcp.port } })).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await first.close();
    }
  });
});
