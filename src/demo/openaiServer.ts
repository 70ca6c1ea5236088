import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isRecord } from '../ai/jsonAccess.js';
import { decodeBody, listenDemoServer, readBody, safeHandler, sendJson, sleep, type DemoServer, type ListenOptions } from './demoHttp.js';
import { readKnobs, type DemoKnobs } from './demoKnobs.js';
import { RequestLog } from './lastRequest.js';
import { openAiError, type DemoCall } from './demoCall.js';
import { DEMO_MODELS } from './demoModel.js';
import { answerChatCompletion } from './openaiChat.js';
import { answerCompletion } from './openaiCompletions.js';
import { answerEmbeddings } from './openaiEmbeddings.js';
import { answerResponse } from './openaiResponses.js';
import { anthropicError, answerAnthropicMessage } from './anthropicMessages.js';

/**
 * The demo OpenAI-compatible (and Anthropic-compatible) LLM service: the fake LLM of
 * `tollgate demo` and of the test suite. Endpoints and test knobs: src/demo/README.md.
 */
const API_ROUTES: Record<string, (call: DemoCall) => Promise<void>> = {
  '/v1/chat/completions': answerChatCompletion,
  '/v1/completions': answerCompletion,
  '/v1/embeddings': answerEmbeddings,
  '/v1/responses': answerResponse,
  '/v1/messages': answerAnthropicMessage,
};

function modelEntry(id: string): Record<string, unknown> {
  return { id, object: 'model', created: 1735689600, owned_by: 'tollgate-demo' };
}

/** The `x-demo-status` answer: the API's own error shape with the requested status. */
async function answerKnobStatus(res: ServerResponse, path: string, knobs: DemoKnobs, status: number): Promise<void> {
  await sleep(knobs.delayMs);
  const message = `demo error requested with x-demo-status: ${status}`;
  if (path === '/v1/messages') sendJson(res, status, anthropicError(status >= 500 ? 'api_error' : 'invalid_request_error', message));
  else sendJson(res, status, openAiError(message, status >= 500 ? 'server_error' : 'invalid_request_error'));
}

function answerModels(res: ServerResponse, path: string): void {
  if (path === '/v1/models') {
    sendJson(res, 200, { object: 'list', data: DEMO_MODELS.map(modelEntry) });
    return;
  }
  const id = decodeURIComponent(path.slice('/v1/models/'.length));
  if (DEMO_MODELS.includes(id)) sendJson(res, 200, modelEntry(id));
  else sendJson(res, 404, openAiError(`The model '${id}' does not exist`, 'invalid_request_error', 'model'));
}

async function route(log: RequestLog, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://demo').pathname;
  if (log.handleDebug(req, res, path)) return;
  const raw = await readBody(req);
  const json = decodeBody(raw);
  log.record(req, json);
  const knobs = readKnobs(req);
  if (knobs.status !== null) return answerKnobStatus(res, path, knobs, knobs.status);
  const method = req.method ?? 'GET';
  if (path === '/v1/models' || path.startsWith('/v1/models/')) {
    if (method === 'GET') return answerModels(res, path);
    return sendJson(res, 405, openAiError(`${method} is not allowed on ${path}`, 'invalid_request_error'), { allow: 'GET' });
  }
  const handler = API_ROUTES[path];
  if (handler === undefined) return sendJson(res, 404, openAiError(`Unknown request URL: ${method} ${path}`, 'invalid_request_error'));
  if (method !== 'POST') return sendJson(res, 405, openAiError(`${method} is not allowed on ${path}`, 'invalid_request_error'), { allow: 'POST' });
  if (!isRecord(json)) return sendJson(res, 400, openAiError('The request body must be a JSON object', 'invalid_request_error'));
  await handler({ req, res, body: json, knobs });
}

export async function startOpenAiServer(options: ListenOptions = {}): Promise<DemoServer> {
  const log = new RequestLog();
  const server = createServer(safeHandler((req, res) => route(log, req, res)));
  return listenDemoServer(server, options);
}
