import type { AiApi } from './types.js';
import { TextSample } from './tokenizer.js';
import { arrayField, isRecord, recordField, stringField, type JsonRecord } from './jsonAccess.js';

/**
 * Prompt-token estimate of a request body, before the upstream reports real usage (token
 * budget reservations, and the charge when no usage is ever reported).
 *
 * Counted: message contents (strings and text parts), system prompts and `instructions`,
 * completion `prompt`s and embedding `input`s (token-id arrays count one token per id), tool
 * calls and tool results already in the conversation, and tool definitions (as JSON, a slight
 * over-estimate). Each message adds OpenAI's documented overhead of 3 tokens, plus 3 to prime the
 * reply. Image parts count a flat 85 tokens (OpenAI's low-detail price); other media is ignored.
 */
const TOKENS_PER_MESSAGE = 3;
const TOKENS_REPLY_PRIMING = 3;
const TOKENS_PER_IMAGE = 85;
const MAX_CONTENT_DEPTH = 8;
const IMAGE_PART_TYPES = new Set(['image_url', 'input_image', 'image']);

export function estimatePromptTokens(api: AiApi, body: JsonRecord): number {
  return promptSample(api, body).countTokens();
}

/** The estimate, and a count the real prompt cannot exceed (what a budget reserves). */
export function promptTokenBounds(api: AiApi, body: JsonRecord): { estimate: number; atMost: number } {
  const sample = promptSample(api, body);
  return { estimate: sample.countTokens(), atMost: sample.countTokensAtMost() };
}

function promptSample(api: AiApi, body: JsonRecord): TextSample {
  const sample = new TextSample();
  switch (api) {
    case 'openai-chat':
      addMessages(sample, arrayField(body, 'messages'));
      addToolDefinitions(sample, body.tools);
      break;
    case 'anthropic-messages':
      addContent(sample, body.system, 0);
      addMessages(sample, arrayField(body, 'messages'));
      addToolDefinitions(sample, body.tools);
      break;
    case 'openai-responses':
      addContent(sample, body.instructions, 0);
      if (Array.isArray(body.input)) addMessages(sample, body.input);
      else addContent(sample, body.input, 0);
      addToolDefinitions(sample, body.tools);
      break;
    case 'openai-completions':
      addPromptInput(sample, body.prompt);
      break;
    case 'openai-embeddings':
      addPromptInput(sample, body.input);
      break;
    case 'mcp':
      break;
  }
  return sample;
}

/** Conversation items: chat/Anthropic messages, responses-API input items. */
function addMessages(sample: TextSample, messages: unknown[]): void {
  if (messages.length === 0) return;
  for (const message of messages) {
    sample.addTokens(TOKENS_PER_MESSAGE);
    if (typeof message === 'string') sample.addPart(message);
    else if (isRecord(message)) addContentBlock(sample, message, 0);
  }
  sample.addTokens(TOKENS_REPLY_PRIMING);
}

/** A content value: a string, an array of parts, or one part/message object. */
function addContent(sample: TextSample, content: unknown, depth: number): void {
  if (depth > MAX_CONTENT_DEPTH) return;
  if (typeof content === 'string') sample.addPart(content);
  else if (Array.isArray(content)) for (const part of content) addContent(sample, part, depth + 1);
  else if (isRecord(content)) addContentBlock(sample, content, depth + 1);
}

/**
 * One message or content part of any of the formats: `text` parts, nested `content` (messages,
 * Anthropic `tool_result`), OpenAI `tool_calls[].function`, Anthropic `tool_use` (`name` +
 * `input`), responses-API `function_call` (`name` + `arguments`) and `function_call_output`.
 */
function addContentBlock(sample: TextSample, block: JsonRecord, depth: number): void {
  const type = stringField(block, 'type');
  if (type !== null && IMAGE_PART_TYPES.has(type)) {
    sample.addTokens(TOKENS_PER_IMAGE);
    return;
  }
  const text = stringField(block, 'text');
  if (text !== null) sample.addPart(text);
  if (type === 'tool_use' || type === 'function_call') addFunctionCall(sample, block);
  addContent(sample, block.content, depth);
  addContent(sample, block.output, depth);
  for (const call of arrayField(block, 'tool_calls')) {
    if (isRecord(call)) addFunctionCall(sample, recordField(call, 'function') ?? call);
  }
}

function addFunctionCall(sample: TextSample, call: JsonRecord): void {
  const name = stringField(call, 'name');
  if (name !== null) sample.addPart(name);
  const args = stringField(call, 'arguments');
  if (args !== null) sample.addPart(args);
  if (isRecord(call.input)) sample.addPart(JSON.stringify(call.input));
}

function addToolDefinitions(sample: TextSample, tools: unknown): void {
  if (Array.isArray(tools) && tools.length > 0) sample.addPart(JSON.stringify(tools));
}

/** Completions `prompt` / embeddings `input`: string, strings, token ids, or arrays of token ids. */
function addPromptInput(sample: TextSample, input: unknown): void {
  if (typeof input === 'string') {
    sample.addPart(input);
  } else if (Array.isArray(input)) {
    for (const item of input) {
      if (typeof item === 'string') sample.addPart(item);
      else if (typeof item === 'number') sample.addTokens(1);
      else if (Array.isArray(item)) sample.addTokens(item.length);
    }
  }
}
