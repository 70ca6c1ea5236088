import type { AiApi } from './types.js';
import { isRecord } from './jsonAccess.js';

/** Path suffixes of the HTTP AI APIs, most specific first (`/chat/completions` before `/completions`). */
const API_PATH_SUFFIXES: ReadonlyArray<readonly [string, AiApi]> = [
  ['/chat/completions', 'openai-chat'],
  ['/completions', 'openai-completions'],
  ['/embeddings', 'openai-embeddings'],
  ['/responses', 'openai-responses'],
  ['/messages', 'anthropic-messages'],
];

/** The AI API a path belongs to, judged by its suffix; MCP cannot be told from a path. */
export function aiApiOfPath(path: string): AiApi | null {
  const query = path.indexOf('?');
  let bare = query === -1 ? path : path.slice(0, query);
  while (bare.length > 1 && bare.endsWith('/')) bare = bare.slice(0, -1);
  for (const [suffix, api] of API_PATH_SUFFIXES) {
    if (bare.endsWith(suffix)) return api;
  }
  return null;
}

/** One JSON-RPC 2.0 message (request, notification or response). */
function isJsonRpcMessage(value: unknown): boolean {
  return isRecord(value) && value.jsonrpc === '2.0';
}

/** A JSON-RPC 2.0 message or a non-empty batch of them: MCP over Streamable HTTP or HTTP+SSE. */
export function isJsonRpcBody(json: unknown): boolean {
  if (Array.isArray(json)) return json.length > 0 && json.every(isJsonRpcMessage);
  return isJsonRpcMessage(json);
}

/**
 * The AI API of a request: MCP when the body is JSON-RPC (on any path, including the legacy
 * transport's `/messages`), else by path suffix. `/messages` counts as Anthropic only with a
 * `messages` array, so other `…/messages` endpoints are not mistaken for it.
 */
export function detectAiApi(path: string, json: unknown): AiApi | null {
  if (isJsonRpcBody(json)) return 'mcp';
  const api = aiApiOfPath(path);
  if (api === 'anthropic-messages' && !(isRecord(json) && Array.isArray(json.messages))) return null;
  return api;
}
