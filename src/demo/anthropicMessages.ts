import { estimatePromptTokens } from '../ai/promptText.js';
import { arrayField, type JsonRecord } from '../ai/jsonAccess.js';
import { readConversation } from './conversation.js';
import { generate, streamPieces, type Generation } from './demoModel.js';
import { answerModel, chunkText, newId, requestedMaxTokens, type DemoCall } from './demoCall.js';
import { sendJson, sleep } from './demoHttp.js';
import { SseStream } from './sseStream.js';

/**
 * `POST /v1/messages` in Anthropic's shape: `max_tokens` required, text or `tool_use` blocks,
 * `usage.input_tokens/output_tokens`; streamed as `message_start` (input usage), content block
 * events, `message_delta` (output usage), `message_stop`.
 */
const DEFAULT_ANTHROPIC_MODEL = 'claude-sonnet-4-5';

export function anthropicError(type: string, message: string): JsonRecord {
  return { type: 'error', error: { type, message } };
}

function stopReason(generation: Generation): string {
  if (generation.toolCalls.length > 0) return 'tool_use';
  return generation.truncated ? 'max_tokens' : 'end_turn';
}

function contentBlocks(generation: Generation): JsonRecord[] {
  if (generation.toolCalls.length === 0) return [{ type: 'text', text: generation.text }];
  return generation.toolCalls.map((toolCall) => ({
    type: 'tool_use',
    id: `toolu_demo_${toolCall.index}`,
    name: toolCall.name,
    input: JSON.parse(toolCall.arguments) as unknown,
  }));
}

export async function answerAnthropicMessage(call: DemoCall): Promise<void> {
  const maxTokens = requestedMaxTokens(call.body, ['max_tokens']);
  if (maxTokens === null || arrayField(call.body, 'messages').length === 0) {
    sendJson(call.res, 400, anthropicError('invalid_request_error', 'max_tokens and a non-empty messages array are required'));
    return;
  }
  const generation = generate(readConversation('anthropic-messages', call.body), maxTokens, call.knobs.reply);
  const inputTokens = estimatePromptTokens('anthropic-messages', call.body);
  const message: JsonRecord = {
    id: newId('msg_'),
    type: 'message',
    role: 'assistant',
    model: answerModel(call, DEFAULT_ANTHROPIC_MODEL),
    content: contentBlocks(generation),
    stop_reason: stopReason(generation),
    stop_sequence: null,
  };
  const usage = { input_tokens: inputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: generation.completionTokens, service_tier: 'standard' };
  if (call.body.stream === true) {
    await streamMessage(call, message, generation, usage);
    return;
  }
  await sleep(call.knobs.delayMs);
  sendJson(call.res, 200, call.knobs.omitUsage ? message : { ...message, usage });
}

function blockEvents(block: JsonRecord, index: number): JsonRecord[] {
  if (block.type === 'tool_use') {
    const json = JSON.stringify(block.input);
    return [
      { type: 'content_block_start', index, content_block: { ...block, input: {} } },
      ...chunkText(json, 8).map((partial) => ({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: partial } })),
      { type: 'content_block_stop', index },
    ];
  }
  return [
    { type: 'content_block_start', index, content_block: { type: 'text', text: '' } },
    ...streamPieces(String(block.text)).map((text) => ({ type: 'content_block_delta', index, delta: { type: 'text_delta', text } })),
    { type: 'content_block_stop', index },
  ];
}

async function streamMessage(call: DemoCall, message: JsonRecord, generation: Generation, usage: JsonRecord): Promise<void> {
  const omit = call.knobs.omitUsage;
  const startUsage = { ...usage, output_tokens: 1 };
  const blocks = Array.isArray(message.content) ? (message.content as JsonRecord[]) : [];
  const events: JsonRecord[] = [
    { type: 'message_start', message: { ...message, content: [], stop_reason: null, ...(omit ? {} : { usage: startUsage }) } },
    { type: 'ping' },
    ...blocks.flatMap((block, index) => blockEvents(block, index)),
    { type: 'message_delta', delta: { stop_reason: stopReason(generation), stop_sequence: null }, ...(omit ? {} : { usage: { output_tokens: generation.completionTokens } }) },
    { type: 'message_stop' },
  ];
  const stream = new SseStream(call.res, call.knobs.delayMs);
  for (const event of events) {
    if (!stream.open) return;
    await stream.send(event, String(event.type));
  }
  stream.end();
}
