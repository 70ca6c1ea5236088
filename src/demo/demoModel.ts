import { countTextTokens, decodeTokens, encodeText } from '../ai/tokenizer.js';
import { isRecord, type JsonRecord } from '../ai/jsonAccess.js';
import type { Conversation, OfferedTool } from './conversation.js';

/**
 * The demo "model": deterministic answers, so tests can predict them, with real token counts
 * (o200k tokenizer, the same as src/ai). It calls tools when tools are offered and no tool
 * result came back yet: the first tool, or every tool when the user text says "use all tools".
 */
export const DEFAULT_CHAT_MODEL = 'llama-3.3-8b-instruct';
export const DEFAULT_EMBEDDING_MODEL = 'text-embedding-3-small';
export const DEMO_MODELS = [DEFAULT_CHAT_MODEL, 'gpt-4o-mini', 'claude-sonnet-4-5', DEFAULT_EMBEDDING_MODEL];

export interface PlannedToolCall {
  /** Position among this answer's calls (0-based). */
  index: number;
  name: string;
  /** Arguments as a JSON string. */
  arguments: string;
}

export interface Generation {
  /** The generated text ('' when the answer is tool calls only). */
  text: string;
  toolCalls: PlannedToolCall[];
  completionTokens: number;
  /** max_tokens cut the text short. */
  truncated: boolean;
}

const QUOTE_CHARS = 200;

function clip(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= QUOTE_CHARS ? flat : `${flat.slice(0, QUOTE_CHARS)}…`;
}

/** The reply text before any max_tokens cut. */
export function replyText(conversation: Conversation, override: string | null): string {
  if (override !== null) return override;
  if (conversation.toolResult !== null) return `The tool returned: "${clip(conversation.toolResult)}". That is all I needed.`;
  return `Hello from the tollgate demo model! You said: "${clip(conversation.userText)}".`;
}

/** Truncates text to at most `maxTokens` tokens. */
export function limitTokens(text: string, maxTokens: number | null): { text: string; tokens: number; truncated: boolean } {
  const tokens = encodeText(text);
  if (maxTokens === null || tokens.length <= maxTokens) return { text, tokens: tokens.length, truncated: false };
  const kept = tokens.slice(0, Math.max(0, maxTokens));
  return { text: decodeTokens(kept), tokens: kept.length, truncated: true };
}

export function generate(conversation: Conversation, maxTokens: number | null, override: string | null): Generation {
  const calls = plannedToolCalls(conversation);
  if (calls.length > 0) {
    const completionTokens = calls.reduce((sum, call) => sum + countTextTokens(call.name) + countTextTokens(call.arguments), 0);
    return { text: '', toolCalls: calls, completionTokens, truncated: false };
  }
  const limited = limitTokens(replyText(conversation, override), maxTokens);
  return { text: limited.text, toolCalls: [], completionTokens: limited.tokens, truncated: limited.truncated };
}

function plannedToolCalls(conversation: Conversation): PlannedToolCall[] {
  const { tools } = conversation;
  if (tools.length === 0 || conversation.toolsDisabled || conversation.toolResult !== null) return [];
  const chosen = /use all tools/i.test(conversation.userText) ? tools : tools.slice(0, 1);
  return chosen.map((tool, index) => ({ index, name: tool.name, arguments: JSON.stringify(sampleArguments(tool, conversation.userText)) }));
}

/** Arguments that satisfy the tool's schema: strings get the user's text, numbers 2, … */
function sampleArguments(tool: OfferedTool, userText: string): JsonRecord {
  const properties = tool.parameters?.properties;
  const args: JsonRecord = {};
  if (!isRecord(properties)) return args;
  for (const [name, schema] of Object.entries(properties)) {
    const type = isRecord(schema) ? schema.type : undefined;
    if (type === 'number' || type === 'integer') args[name] = 2;
    else if (type === 'boolean') args[name] = true;
    else if (type === 'array') args[name] = [];
    else if (type === 'object') args[name] = {};
    else args[name] = clip(userText) || 'demo';
  }
  return args;
}

/** Stream pieces: words with their leading whitespace, the way token deltas look. */
export function streamPieces(text: string): string[] {
  return text.match(/\s*\S+|\s+$/g) ?? [];
}
