import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import * as z from 'zod';
import { CalculatorError, calculate } from './calculator.js';
import { decodeBody, listenDemoServer, readBody, safeHandler, sendJson, type DemoServer, type ListenOptions } from './demoHttp.js';
import { RequestLog } from './lastRequest.js';

/**
 * The demo MCP server (stand-in for mcpjungle): tools `search` and `calculator` over Streamable
 * HTTP at `/mcp`, stateless (a new server and transport per POST, as the SDK shows for stateless
 * servers; answers come as SSE). GET and DELETE `/mcp` get 405, as stateless servers do.
 */
export const MCP_PATH = '/mcp';

const SEARCH_CORPUS = [
  { title: 'tollgate', text: 'tollgate is the secure front door of an AI platform: auth, limits, budgets, audit.' },
  { title: 'Model Context Protocol', text: 'MCP lets AI applications call tools and read resources over JSON-RPC.' },
  { title: 'Token budgets', text: 'A workspace token budget caps the tokens a workspace may spend per day.' },
  { title: 'Rate limiting', text: 'Sliding-window rate limits admit exactly the configured number of requests.' },
];

function textResult(text: string, isError = false): { content: Array<{ type: 'text'; text: string }>; isError?: boolean } {
  return { content: [{ type: 'text', text }], ...(isError ? { isError } : {}) };
}

function searchDocuments(query: string, limit: number): string {
  const words = query.toLowerCase().split(/\W+/).filter((word) => word !== '');
  const scored = SEARCH_CORPUS.map((doc) => ({ doc, score: words.filter((word) => `${doc.title} ${doc.text}`.toLowerCase().includes(word)).length }));
  const hits = scored.filter((hit) => hit.score > 0).sort((a, b) => b.score - a.score).slice(0, limit);
  if (hits.length === 0) return `No results for "${query}".`;
  return hits.map((hit, i) => `${i + 1}. ${hit.doc.title}: ${hit.doc.text}`).join('\n');
}

export function buildDemoMcpServer(): McpServer {
  const server = new McpServer({ name: 'tollgate-demo-mcp', version: '1.0.0' });
  server.registerTool(
    'search',
    {
      description: 'Search the demo knowledge base',
      inputSchema: { query: z.string().describe('What to look for'), limit: z.number().int().min(1).max(10).optional() },
    },
    ({ query, limit }) => textResult(searchDocuments(query, limit ?? 3)),
  );
  server.registerTool(
    'calculator',
    {
      description: 'Evaluate an arithmetic expression (+ - * / % ^ and parentheses)',
      inputSchema: { expression: z.string().describe('For example: (2 + 3) * 4') },
    },
    ({ expression }) => {
      try {
        return textResult(String(calculate(expression)));
      } catch (err) {
        if (err instanceof CalculatorError) return textResult(`Cannot evaluate "${expression}": ${err.message}`, true);
        throw err;
      }
    },
  );
  return server;
}

function jsonRpcError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { jsonrpc: '2.0', error: { code: -32000, message }, id: null });
}

async function handleMcpPost(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
  const server = buildDemoMcpServer();
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.on('close', () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, body);
}

async function route(log: RequestLog, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://demo').pathname;
  if (log.handleDebug(req, res, path)) return;
  const body = decodeBody(await readBody(req));
  log.record(req, body);
  if (path !== MCP_PATH) return jsonRpcError(res, 404, `Not found: ${path} (the MCP endpoint is ${MCP_PATH})`);
  if (req.method !== 'POST') return jsonRpcError(res, 405, 'Method not allowed: this stateless MCP server takes POST only.');
  await handleMcpPost(req, res, body);
}

export async function startMcpServer(options: ListenOptions = {}): Promise<DemoServer> {
  const log = new RequestLog();
  const server = createServer(safeHandler((req, res) => route(log, req, res)));
  return listenDemoServer(server, options);
}
