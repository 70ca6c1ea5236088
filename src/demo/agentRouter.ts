import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isRecord } from '../ai/jsonAccess.js';
import { decodeBody, listenDemoServer, readBody, safeHandler, sendJson, sleep, type DemoServer, type ListenOptions } from './demoHttp.js';
import { readKnobs } from './demoKnobs.js';
import { RequestLog } from './lastRequest.js';

/**
 * The demo Agent Router: `GET /v1/agents` lists agents; `POST /v1/agents/{name}/invoke` (any
 * request under `/v1/agents/`) answers `{ agent, output }` with an `X-Tools-Used` header, the
 * way the platform's agent services report the tools they ran. Knobs: `x-demo-delay-ms`,
 * `x-demo-status`, and `x-demo-tools-used` (replaces the header; empty: no header).
 */
export const DEFAULT_AGENT_TOOLS = 'search,calculator';

const AGENTS = [
  { name: 'research', description: 'Answers questions using web search', tools: ['search', 'calculator'] },
  { name: 'support', description: 'Handles customer support requests', tools: ['search'] },
];

function inputText(body: unknown): string {
  if (typeof body === 'string') return body;
  if (!isRecord(body)) return '';
  for (const key of ['input', 'message', 'query', 'prompt']) {
    if (typeof body[key] === 'string') return body[key];
  }
  return JSON.stringify(body);
}

function agentName(path: string): string {
  const segment = path.slice('/v1/agents/'.length).split('/')[0];
  return decodeURIComponent(segment || 'default');
}

async function route(log: RequestLog, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://demo').pathname;
  if (log.handleDebug(req, res, path)) return;
  const body = decodeBody(await readBody(req));
  log.record(req, body);
  const knobs = readKnobs(req);
  await sleep(knobs.delayMs);
  if (knobs.status !== null) return sendJson(res, knobs.status, { error: `demo error requested with x-demo-status: ${knobs.status}` });
  if (path === '/v1/agents' || path === '/v1/agents/') return sendJson(res, 200, { agents: AGENTS });
  if (!path.startsWith('/v1/agents/')) return sendJson(res, 404, { error: `Not found: ${path}` });
  const toolsHeader = req.headers['x-demo-tools-used'];
  const tools = typeof toolsHeader === 'string' ? toolsHeader : DEFAULT_AGENT_TOOLS;
  const agent = agentName(path);
  const input = inputText(body);
  const output = `Agent ${agent} handled: ${input.slice(0, 200)}`;
  sendJson(res, 200, { agent, output }, tools === '' ? {} : { 'x-tools-used': tools });
}

export async function startAgentRouter(options: ListenOptions = {}): Promise<DemoServer> {
  const log = new RequestLog();
  const server = createServer(safeHandler((req, res) => route(log, req, res)));
  return listenDemoServer(server, options);
}
