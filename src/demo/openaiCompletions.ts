import { estimatePromptTokens } from '../ai/promptText.js';
import { recordField } from '../ai/jsonAccess.js';
import { DEFAULT_CHAT_MODEL, limitTokens, streamPieces } from './demoModel.js';
import { answerModel, newId, openAiError, requestedMaxTokens, unixSeconds, type DemoCall } from './demoCall.js';
import { openAiUsage } from './openaiChat.js';
import { sendJson, sleep } from './demoHttp.js';
import { SseStream } from './sseStream.js';

/**
 * `POST /v1/completions` (legacy), JSON or streamed. As OpenAI, `max_tokens` defaults to 16.
 * The text continues the prompt deterministically.
 */
const DEFAULT_MAX_TOKENS = 16;

function promptText(prompt: unknown): string | null {
  if (typeof prompt === 'string') return prompt;
  if (Array.isArray(prompt) && prompt.length > 0) return prompt.map((item) => (typeof item === 'string' ? item : '')).join(' ');
  return null;
}

export async function answerCompletion(call: DemoCall): Promise<void> {
  const prompt = promptText(call.body.prompt);
  if (prompt === null) {
    sendJson(call.res, 400, openAiError("'prompt' is required", 'invalid_request_error', 'prompt'));
    return;
  }
  const reply = call.knobs.reply ?? ` and so the tollgate demo model continues "${prompt.slice(0, 80)}" with a few more words of text.`;
  const limited = limitTokens(reply, requestedMaxTokens(call.body, ['max_tokens']) ?? DEFAULT_MAX_TOKENS);
  const envelope = { id: newId('cmpl-'), object: 'text_completion', created: unixSeconds(), model: answerModel(call, DEFAULT_CHAT_MODEL), system_fingerprint: 'fp_tollgate_demo' };
  const usage = openAiUsage(estimatePromptTokens('openai-completions', call.body), limited.tokens);
  const finish = limited.truncated ? 'length' : 'stop';
  if (call.body.stream !== true) {
    await sleep(call.knobs.delayMs);
    const choices = [{ text: limited.text, index: 0, logprobs: null, finish_reason: finish }];
    sendJson(call.res, 200, { ...envelope, choices, ...(call.knobs.omitUsage ? {} : { usage }) });
    return;
  }
  const includeUsage = recordField(call.body, 'stream_options')?.include_usage === true;
  const stream = new SseStream(call.res, call.knobs.delayMs);
  const pieces = streamPieces(limited.text);
  for (const [index, piece] of pieces.entries()) {
    if (!stream.open) return;
    const last = index === pieces.length - 1;
    await stream.send({ ...envelope, choices: [{ text: piece, index: 0, logprobs: null, finish_reason: last ? finish : null }], ...(includeUsage ? { usage: null } : {}) });
  }
  if (includeUsage && !call.knobs.omitUsage) await stream.send({ ...envelope, choices: [], usage });
  await stream.done();
  stream.end();
}
