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
 * The AI API of a request. The path decides first: a body on `/chat/completions` (or any other
 * AI path) is that API even if it also says `"jsonrpc": "2.0"`, or anyone could make a chat
 * completion look like MCP and have it reserve and charge nothing. `/messages` is also the MCP
 * legacy transport's endpoint: there it is Anthropic with a `messages` array, MCP with a JSON-RPC
 * body, else neither. Off the AI paths, a JSON-RPC body is MCP (`/mcp`, …).
 */
export function detectAiApi(path: string, json: unknown): AiApi | null {
  const api = aiApiOfPath(path);
  if (api === 'anthropic-messages') {
    if (isRecord(json) && Array.isArray(json.messages)) return api;
    return isJsonRpcBody(json) ? 'mcp' : null;
  }
  if (api !== null) return api;
  return isJsonRpcBody(json) ? 'mcp' : null;
}
