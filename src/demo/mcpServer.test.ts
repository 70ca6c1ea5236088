import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startMcpServer, MCP_PATH } from './mcpServer.js';
import type { DemoServer } from './demoHttp.js';
import type { RecordedRequest } from './lastRequest.js';

let server: DemoServer;
let client: Client;

beforeAll(async () => {
  server = await startMcpServer();
  client = new Client({ name: 'tollgate-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}${MCP_PATH}`)));
});
afterAll(async () => {
  await client.close();
  await server.close();
});

function firstText(result: Awaited<ReturnType<Client['callTool']>>): string {
  const content = result.content as Array<{ type: string; text?: string }>;
  return content[0]?.text ?? '';
}

describe('demo MCP server with the MCP SDK client', () => {
  it('lists the search and calculator tools', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(['search', 'calculator']);
    expect(tools[1].inputSchema.properties).toHaveProperty('expression');
  });

  it('calls calculator and search', async () => {
    expect(firstText(await client.callTool({ name: 'calculator', arguments: { expression: '(2 + 3) * 4' } }))).toBe('20');
    expect(firstText(await client.callTool({ name: 'search', arguments: { query: 'token budget' } }))).toContain('Token budgets');
    const failed = await client.callTool({ name: 'calculator', arguments: { expression: '1 / 0' } });
    expect(failed.isError).toBe(true);
  });

  it('records the JSON-RPC request and refuses GET in stateless mode', async () => {
    await client.callTool({ name: 'calculator', arguments: { expression: '1+1' } });
    const last = (await (await fetch(`${server.url}/debug/last-request`)).json()) as RecordedRequest;
    expect(last.body).toMatchObject({ jsonrpc: '2.0', method: 'tools/call', params: { name: 'calculator' } });
    expect((await fetch(`${server.url}${MCP_PATH}`)).status).toBe(405);
  });
});
