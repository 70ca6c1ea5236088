import { estimatePromptTokens } from '../ai/promptText.js';
import { arrayField, recordField, type JsonRecord } from '../ai/jsonAccess.js';
import { readConversation } from './conversation.js';
import { DEFAULT_CHAT_MODEL, generate, streamPieces, type Generation } from './demoModel.js';
import { answerModel, chunkText, newId, openAiError, requestedMaxTokens, unixSeconds, type DemoCall } from './demoCall.js';
import { sendJson, sleep } from './demoHttp.js';
import { SseStream } from './sseStream.js';

/** `POST /v1/chat/completions`, JSON or streamed, shaped like OpenAI's. */

const SYSTEM_FINGERPRINT = 'fp_tollgate_demo';

interface ChatAnswer {
  id: string;
  created: number;
  model: string;
  generation: Generation;
  usage: JsonRecord;
}

export function openAiUsage(promptTokens: number, completionTokens: number): JsonRecord {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

export function finishReason(generation: Generation): string {
  if (generation.toolCalls.length > 0) return 'tool_calls';
  return generation.truncated ? 'length' : 'stop';
}

export async function answerChatCompletion(call: DemoCall): Promise<void> {
  if (arrayField(call.body, 'messages').length === 0) {
    sendJson(call.res, 400, openAiError("'messages' must be a non-empty array", 'invalid_request_error', 'messages'));
    return;
  }
  const generation = generate(
    readConversation('openai-chat', call.body),
    requestedMaxTokens(call.body, ['max_completion_tokens', 'max_tokens']),
    call.knobs.reply,
  );
  const answer: ChatAnswer = {
    id: newId('chatcmpl-'),
    created: unixSeconds(),
    model: answerModel(call, DEFAULT_CHAT_MODEL),
    generation,
    usage: openAiUsage(estimatePromptTokens('openai-chat', call.body), generation.completionTokens),
  };
  if (call.body.stream === true) {
    await streamChat(call, answer);
    return;
  }
  await sleep(call.knobs.delayMs);
  sendJson(call.res, 200, chatCompletionBody(answer, !call.knobs.omitUsage));
}

function chatCompletionBody(answer: ChatAnswer, withUsage: boolean): JsonRecord {
  const { generation } = answer;
  const toolCalls = generation.toolCalls.map((toolCall) => ({
    id: `call_demo_${toolCall.index}`,
    type: 'function',
    function: { name: toolCall.name, arguments: toolCall.arguments },
  }));
  const message: JsonRecord = { role: 'assistant', content: toolCalls.length > 0 ? null : generation.text, refusal: null, annotations: [] };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  return {
    id: answer.id,
    object: 'chat.completion',
    created: answer.created,
    model: answer.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason(generation) }],
    ...(withUsage ? { usage: answer.usage } : {}),
    service_tier: 'default',
    system_fingerprint: SYSTEM_FINGERPRINT,
  };
}

/** The deltas of a streamed answer: role first, then text pieces or tool-call pieces. */
function chatDeltas(generation: Generation): JsonRecord[] {
  if (generation.toolCalls.length === 0) {
    return [{ role: 'assistant', content: '', refusal: null }, ...streamPieces(generation.text).map((piece) => ({ content: piece }))];
  }
  const deltas: JsonRecord[] = [];
  for (const toolCall of generation.toolCalls) {
    const opening = { index: toolCall.index, id: `call_demo_${toolCall.index}`, type: 'function', function: { name: toolCall.name, arguments: '' } };
    deltas.push(toolCall.index === 0 ? { role: 'assistant', content: null, tool_calls: [opening] } : { tool_calls: [opening] });
    for (const piece of chunkText(toolCall.arguments, 8)) deltas.push({ tool_calls: [{ index: toolCall.index, function: { arguments: piece } }] });
  }
  return deltas;
}

/** Streams like OpenAI: usage only in an extra last chunk, and only with include_usage. */
async function streamChat(call: DemoCall, answer: ChatAnswer): Promise<void> {
  const includeUsage = recordField(call.body, 'stream_options')?.include_usage === true;
  const envelope = { id: answer.id, object: 'chat.completion.chunk', created: answer.created, model: answer.model, service_tier: 'default', system_fingerprint: SYSTEM_FINGERPRINT };
  const usageField = includeUsage ? { usage: null } : {};
  const stream = new SseStream(call.res, call.knobs.delayMs);
  const chunk = (delta: JsonRecord, finish: string | null) => ({
    ...envelope,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...usageField,
  });
  for (const delta of chatDeltas(answer.generation)) {
    if (!stream.open) return;
    await stream.send(chunk(delta, null));
  }
  await stream.send(chunk({}, finishReason(answer.generation)));
  if (includeUsage && !call.knobs.omitUsage) await stream.send({ ...envelope, choices: [], usage: answer.usage });
  await stream.done();
  stream.end();
}
