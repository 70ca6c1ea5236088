import type { AiRequestFacts } from '../core/context.js';
import type { AiApi } from './types.js';
import { aiApiOfPath, detectAiApi } from './apiKind.js';
import { promptTokenBounds } from './promptText.js';
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
  return { api: null, model: null, stream: false, maxTokens: null, estimatedPromptTokens: 0, promptTokensAtMost: 0, tools: [] };
}

/**
 * What a request body says about AI usage: model, streaming, completion cap, prompt-token
 * estimate (o200k tokenizer, see tokenizer.ts) and, for MCP, the tools it calls. Anything
 * unrecognised gives empty facts; never throws.
 */
export function inspectRequest(path: string, json: unknown, bodyBytes = 0): InspectedRequest {
  const facts = emptyRequestFacts();
  const api = detectAiApi(path, json);
  if (api === 'mcp') {
    facts.api = api;
    facts.tools = mcpToolCalls(json);
    return facts;
  }
  if (api === null || !isRecord(json)) {
    // A body on a generative path that JavaScript cannot read as a JSON object (a UTF-8 BOM,
    // NaN in a field, a bare number) may still be one the upstream accepts (Python's json
    // does): it is accounted as that API, its prompt bounded by its size in bytes (no tokenizer
    // makes more tokens than bytes), so it can neither dodge the budget nor its usage be missed.
    const byPath = aiApiOfPath(path);
    if (bodyBytes > 0 && json === undefined && byPath !== null) {
      facts.api = byPath;
      facts.estimatedPromptTokens = bodyBytes;
      facts.promptTokensAtMost = bodyBytes;
    }
    return facts;
  }
  facts.api = api;
  facts.model = stringField(json, 'model');
  facts.stream = laxTrue(json.stream);
  facts.maxTokens = maxTokensOf(json);
  const prompt = promptTokenBounds(api, json);
  facts.estimatedPromptTokens = prompt.estimate;
  facts.promptTokensAtMost = prompt.atMost;
  return facts;
}

/** Most completions one request may generate: `n` (chat, completions) or `best_of`, capped. */
const MAX_CHOICES = 128;

/**
 * The most tokens the request lets the model generate: the largest cap present (upstreams
 * differ in which field wins), times the number of completions it asks for (`n`, `best_of`:
 * each may run to the cap). Null when no cap is given.
 */
function maxTokensOf(body: JsonRecord): number | null {
  let cap: number | null = null;
  for (const field of MAX_TOKENS_FIELDS) {
    const value = laxCount(body, field);
    if (value !== null && (cap === null || value > cap)) cap = Math.floor(value);
  }
  if (cap === null) return null;
  let choices = 1;
  for (const field of ['n', 'best_of'] as const) {
    const value = laxCount(body, field);
    if (value !== null && value > choices) choices = Math.min(MAX_CHOICES, Math.floor(value));
  }
  return cap * choices;
}

/**
 * A count as a lenient upstream reads it: a JSON number, or a string of digits (`"5000"`:
 * pydantic's lax mode, which vLLM and others run, takes it as 5000 and generates to it; the
 * budget must reserve what the upstream will honour).
 */
function laxCount(body: JsonRecord, key: string): number | null {
  const value = body[key];
  if (typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value)) return Number(value);
  return countField(body, key);
}

/** What pydantic's lax mode (vLLM, many OpenAI-compatible servers) reads as `true`. */
const LAX_TRUE = new Set(['true', '1', 't', 'y', 'yes', 'on']);

/**
 * `stream` as a lenient upstream reads it: `true`, `1`, or a string such as `"true"` streams
 * there, so the request is accounted (and gets `include_usage`) as streamed; otherwise its
 * usage would go unreported and only be estimated.
 */
function laxTrue(value: unknown): boolean {
  if (value === true || value === 1) return true;
  return typeof value === 'string' && value.length <= 5 && LAX_TRUE.has(value.trim().toLowerCase());
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
export function prepareUpstreamBody(path: string, json: unknown, body: Buffer): Buffer | null {
  if (!isRecord(json) || !laxTrue(json.stream)) return null;
  const api = detectAiApi(path, json);
  if (api !== 'openai-chat' && api !== 'openai-completions') return null;
  const streamOptions = recordField(json, 'stream_options');
  if (streamOptions?.include_usage === true) return null;
  if (!('stream_options' in json)) {
    // Inserted into the client's own bytes, not re-serialised: numbers past 2^53, key order
    // and anything else the client sent reach the upstream unchanged.
    const open = body.indexOf(0x7b); // the object's `{` (after any whitespace or BOM)
    if (open === -1) return null;
    return Buffer.concat([body.subarray(0, open + 1), INCLUDE_USAGE, body.subarray(open + 1)]);
  }
  try {
    return Buffer.from(JSON.stringify({ ...json, stream_options: { ...streamOptions, include_usage: true } }));
  } catch {
    return null; // nested too deep to serialise: sent as is (usage is then estimated)
  }
}

const INCLUDE_USAGE = Buffer.from('"stream_options":{"include_usage":true},');
