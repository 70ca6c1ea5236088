import type { UsageAccumulator } from './usageAccumulator.js';
import { isRecord, recordField, recordsOf, stringField, type JsonRecord } from './jsonAccess.js';

/**
 * Readers of OpenAI response bodies and stream events (chat completions, completions,
 * embeddings, responses API). Each takes one parsed JSON object and records what it finds.
 */

/** A `tool_calls[]` entry (whole or a streamed delta) or a legacy `function_call`. */
function readToolCall(acc: UsageAccumulator, call: JsonRecord): void {
  // `function` tools carry { name, arguments }; `custom` tools (type: "custom") { name, input }.
  const fn = recordField(call, 'function') ?? recordField(call, 'custom') ?? call;
  acc.addTool(fn.name);
  acc.addGenerated(fn.arguments ?? fn.input);
}

function readChatMessage(acc: UsageAccumulator, message: JsonRecord): void {
  acc.addGenerated(message.content);
  acc.addGenerated(message.reasoning_content);
  acc.addGenerated(message.refusal);
  for (const call of recordsOf(message, 'tool_calls')) readToolCall(acc, call);
  const legacyCall = recordField(message, 'function_call');
  if (legacyCall !== null) readToolCall(acc, legacyCall);
}

/** `chat.completion` bodies and `chat.completion.chunk` stream events alike. */
export function readChatCompletion(acc: UsageAccumulator, body: JsonRecord): void {
  acc.setModel(body.model);
  const usage = recordField(body, 'usage');
  if (usage !== null) acc.readOpenAiUsage(usage);
  for (const choice of recordsOf(body, 'choices')) {
    const message = recordField(choice, 'message') ?? recordField(choice, 'delta');
    if (message !== null) readChatMessage(acc, message);
  }
}

/** `text_completion` bodies and stream chunks. */
export function readCompletion(acc: UsageAccumulator, body: JsonRecord): void {
  acc.setModel(body.model);
  const usage = recordField(body, 'usage');
  if (usage !== null) acc.readOpenAiUsage(usage);
  for (const choice of recordsOf(body, 'choices')) acc.addGenerated(choice.text);
}

/** Embeddings report prompt tokens only; nothing is generated, so completion is 0. */
export function readEmbeddings(acc: UsageAccumulator, body: JsonRecord): void {
  acc.setModel(body.model);
  const usage = recordField(body, 'usage');
  if (usage === null) return;
  acc.readOpenAiUsage(usage);
  if (acc.promptTokens !== null) acc.completionTokens = 0;
}

/** A responses-API `response` object: model, usage, and the names of its function calls. */
function readResponseObject(acc: UsageAccumulator, response: JsonRecord, withText: boolean): void {
  acc.setModel(response.model);
  const usage = recordField(response, 'usage');
  if (usage !== null) acc.readResponsesUsage(usage);
  for (const item of recordsOf(response, 'output')) readResponseOutputItem(acc, item, withText);
}

function readResponseOutputItem(acc: UsageAccumulator, item: JsonRecord, withText: boolean): void {
  if (item.type === 'function_call' || item.type === 'custom_tool_call' || item.type === 'mcp_call') {
    acc.addTool(item.name);
    if (withText) acc.addGenerated(item.arguments ?? item.input);
  } else if (withText && item.type === 'message') {
    for (const part of recordsOf(item, 'content')) acc.addGenerated(part.text ?? part.refusal);
  }
}

/** A whole responses-API body. */
export function readResponse(acc: UsageAccumulator, body: JsonRecord): void {
  readResponseObject(acc, body, true);
}

/**
 * One responses-API stream event (`type` in the data). Text arrives in `*.delta` events; the
 * `response.*` lifecycle events carry the response object (usage on completed/incomplete/failed),
 * whose text is not read again.
 */
export function readResponseEvent(acc: UsageAccumulator, event: JsonRecord): void {
  const type = stringField(event, 'type') ?? '';
  if (type === 'response.output_text.delta' || type === 'response.function_call_arguments.delta') {
    acc.addGenerated(event.delta);
    return;
  }
  const item = recordField(event, 'item');
  if (item !== null) readResponseOutputItem(acc, item, false);
  const response = event.response;
  if (isRecord(response)) readResponseObject(acc, response, false);
}
