import { estimatePromptTokens } from '../ai/promptText.js';
import type { JsonRecord } from '../ai/jsonAccess.js';
import { readConversation } from './conversation.js';
import { DEFAULT_CHAT_MODEL, generate, streamPieces, type Generation } from './demoModel.js';
import { answerModel, chunkText, newId, openAiError, requestedMaxTokens, unixSeconds, type DemoCall } from './demoCall.js';
import { sendJson, sleep } from './demoHttp.js';
import { SseStream } from './sseStream.js';

/**
 * `POST /v1/responses` (minimal): one message or function_call items, `usage` with
 * input/output tokens; streamed as named events ending in `response.completed`.
 */

function outputItems(generation: Generation, messageId: string): JsonRecord[] {
  if (generation.toolCalls.length > 0) {
    return generation.toolCalls.map((toolCall) => ({
      type: 'function_call',
      id: `fc_demo_${toolCall.index}`,
      call_id: `call_demo_${toolCall.index}`,
      name: toolCall.name,
      arguments: toolCall.arguments,
      status: 'completed',
    }));
  }
  const content = [{ type: 'output_text', text: generation.text, annotations: [] }];
  return [{ type: 'message', id: messageId, status: 'completed', role: 'assistant', content }];
}

function responseObject(call: DemoCall, base: JsonRecord, generation: Generation, promptTokens: number): JsonRecord {
  const usage = {
    input_tokens: promptTokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: generation.completionTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: promptTokens + generation.completionTokens,
  };
  return {
    ...base,
    status: generation.truncated ? 'incomplete' : 'completed',
    incomplete_details: generation.truncated ? { reason: 'max_output_tokens' } : null,
    output: outputItems(generation, `msg_${String(base.id).slice(5)}`),
    usage: call.knobs.omitUsage ? null : usage,
  };
}

export async function answerResponse(call: DemoCall): Promise<void> {
  const input = call.body.input;
  if (typeof input !== 'string' && !Array.isArray(input)) {
    sendJson(call.res, 400, openAiError("'input' must be a string or an array of items", 'invalid_request_error', 'input'));
    return;
  }
  const generation = generate(readConversation('openai-responses', call.body), requestedMaxTokens(call.body, ['max_output_tokens']), call.knobs.reply);
  const base: JsonRecord = {
    id: newId('resp_'),
    object: 'response',
    created_at: unixSeconds(),
    error: null,
    instructions: call.body.instructions ?? null,
    max_output_tokens: call.body.max_output_tokens ?? null,
    model: answerModel(call, DEFAULT_CHAT_MODEL),
    parallel_tool_calls: true,
    previous_response_id: null,
    store: false,
    text: { format: { type: 'text' } },
    tool_choice: call.body.tool_choice ?? 'auto',
    tools: call.body.tools ?? [],
    metadata: {},
  };
  const final = responseObject(call, base, generation, estimatePromptTokens('openai-responses', call.body));
  if (call.body.stream === true) {
    await streamResponse(call, base, final);
    return;
  }
  await sleep(call.knobs.delayMs);
  sendJson(call.res, 200, final);
}

/** The per-item events: added, deltas, done. */
function itemEvents(item: JsonRecord, outputIndex: number): JsonRecord[] {
  const itemId = item.id;
  if (item.type === 'function_call') {
    const args = String(item.arguments);
    return [
      { type: 'response.output_item.added', output_index: outputIndex, item: { ...item, arguments: '', status: 'in_progress' } },
      ...chunkText(args, 8).map((delta) => ({ type: 'response.function_call_arguments.delta', item_id: itemId, output_index: outputIndex, delta })),
      { type: 'response.function_call_arguments.done', item_id: itemId, output_index: outputIndex, arguments: args },
      { type: 'response.output_item.done', output_index: outputIndex, item },
    ];
  }
  const text = Array.isArray(item.content) ? String((item.content[0] as JsonRecord).text) : '';
  const part = { type: 'output_text', text: '', annotations: [] };
  const at = { item_id: itemId, output_index: outputIndex, content_index: 0 };
  return [
    { type: 'response.output_item.added', output_index: outputIndex, item: { ...item, status: 'in_progress', content: [] } },
    { type: 'response.content_part.added', ...at, part },
    ...streamPieces(text).map((delta) => ({ type: 'response.output_text.delta', ...at, delta, logprobs: [] })),
    { type: 'response.output_text.done', ...at, text, logprobs: [] },
    { type: 'response.content_part.done', ...at, part: { ...part, text } },
    { type: 'response.output_item.done', output_index: outputIndex, item },
  ];
}

async function streamResponse(call: DemoCall, base: JsonRecord, final: JsonRecord): Promise<void> {
  const pending = { ...base, status: 'in_progress', incomplete_details: null, output: [], usage: null };
  const items = Array.isArray(final.output) ? (final.output as JsonRecord[]) : [];
  const events: JsonRecord[] = [
    { type: 'response.created', response: pending },
    { type: 'response.in_progress', response: pending },
    ...items.flatMap((item, index) => itemEvents(item, index)),
    { type: final.status === 'incomplete' ? 'response.incomplete' : 'response.completed', response: final },
  ];
  const stream = new SseStream(call.res, call.knobs.delayMs);
  for (const [sequence, event] of events.entries()) {
    if (!stream.open) return;
    await stream.send({ ...event, sequence_number: sequence }, String(event.type));
  }
  stream.end();
}
