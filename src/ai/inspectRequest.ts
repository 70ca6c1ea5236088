import type { AiRequestFacts } from '../core/context.js';
import type { AiApi } from './types.js';
import { detectAiApi } from './apiKind.js';
import { estimatePromptTokens } from './promptText.js';
import { countField, isRecord, recordField, stringField, type JsonRecord } from './jsonAccess.js';

/**
 * Request facts plus the API they were read as. `api` lets ResponseObserver read the answer the
 * same way (an MCP server on `/messages` is not Anthropic); it is structurally an AiRequestFacts.
 */
export interface InspectedRequest extends AiRequestFacts {
  api: AiApi | null;
}

/** Field names of the completion-token cap, in the order they are looked up. */
const MAX_TOKENS_FIELDS = ['max_tokens', 'max_completion_tokens', 'max_output_tokens'] as const;

export function emptyRequestFacts(): InspectedRequest {
  return { api: null, model: null, stream: false, maxTokens: null, estimatedPromptTokens: 0, tools: [] };
}

/**
 * What a request body says about AI usage: model, streaming, completion cap, prompt-token
 * estimate (o200k tokenizer, see tokenizer.ts) and, for MCP, the tools it calls. Anything
 * unrecognised gives empty facts; never throws.
 */
export function inspectRequest(path: string, json: unknown): InspectedRequest {
  const facts = emptyRequestFacts();
  const api = detectAiApi(path, json);
  if (api === 'mcp') {
    facts.api = api;
    facts.tools = mcpToolCalls(json);
    return facts;
  }
  // No JSON object (a GET, a list call): not a generation request, nothing to account for.
  if (api === null || !isRecord(json)) return facts;
  facts.api = api;
  facts.model = stringField(json, 'model');
  facts.stream = json.stream === true;
  facts.maxTokens = maxTokensOf(json);
  facts.estimatedPromptTokens = estimatePromptTokens(api, json);
  return facts;
}

function maxTokensOf(body: JsonRecord): number | null {
  for (const field of MAX_TOKENS_FIELDS) {
    const value = countField(body, field);
    if (value !== null) return Math.floor(value);
  }
  return null;
}

/** `params.name` of every `tools/call` in a JSON-RPC message or batch, de-duplicated, in order. */
export function mcpToolCalls(json: unknown): string[] {
  const messages = Array.isArray(json) ? json : [json];
  const names: string[] = [];
  for (const message of messages) {
    if (!isRecord(message) || message.method !== 'tools/call') continue;
    const params = recordField(message, 'params');
    const name = params === null ? null : stringField(params, 'name');
    if (name !== null && name !== '' && !names.includes(name)) names.push(name);
  }
  return names;
}

/**
 * The body to send upstream instead of the client's, or null when it can go as is. OpenAI-style
 * streaming requests (chat completions, completions) get `stream_options.include_usage: true`
 * (other stream_options kept) so the final chunk reports usage, as the token budget needs.
 */
export function prepareUpstreamBody(path: string, json: unknown): unknown | null {
  if (!isRecord(json) || json.stream !== true) return null;
  const api = detectAiApi(path, json);
  if (api !== 'openai-chat' && api !== 'openai-completions') return null;
  const streamOptions = recordField(json, 'stream_options');
  if (streamOptions?.include_usage === true) return null;
  return { ...json, stream_options: { ...streamOptions, include_usage: true } };
}
