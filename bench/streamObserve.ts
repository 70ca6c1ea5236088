/**
 * `node --import tsx bench/streamObserve.ts`: CPU of reading a streamed chat answer (what the
 * AI-observing plugins do to every SSE event): 500 `chat.completion.chunk` events, one per
 * chunk, with the final usage chunk (`include_usage`, which tollgate asks for) and without it.
 */
import { ResponseObserver } from '../src/ai/responseObserver.js';
import type { AiRequestFacts } from '../src/core/context.js';

const EVENTS = 500;
const chunk = (i: number) =>
  `data: {"id":"chatcmpl-AbC123","object":"chat.completion.chunk","created":1732380000,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_abc","choices":[{"index":0,"delta":{"content":" word${i}"},"logprobs":null,"finish_reason":null}],"usage":null}\n\n`;
const usage = `data: {"id":"chatcmpl-AbC123","object":"chat.completion.chunk","created":1732380000,"model":"gpt-4o-2024-08-06","choices":[],"usage":{"prompt_tokens":20,"completion_tokens":${EVENTS},"total_tokens":${EVENTS + 20}}}\n\n`;
const request: AiRequestFacts = { api: 'openai-chat', model: 'gpt-4o', stream: true, maxTokens: 1000, estimatedPromptTokens: 20, promptTokensAtMost: 20, tools: [] } as AiRequestFacts;

function run(label: string, chunks: Buffer[]): void {
  const observe = () => {
    const o = new ResponseObserver({ contentType: 'text/event-stream', contentEncoding: null, status: 200, request, path: '/v1/chat/completions' });
    for (const c of chunks) o.write(c);
    return o.finish();
  };
  for (let i = 0; i < 100; i++) observe();
  const rounds = 500;
  const started = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) observe();
  const us = Number(process.hrtime.bigint() - started) / rounds / 1000;
  process.stdout.write(`${label}: ${us.toFixed(0)} µs per answer, ${(us / chunks.length).toFixed(2)} µs per event\n`);
}

const deltas = Array.from({ length: EVENTS }, (_, i) => Buffer.from(chunk(i)));
const done = Buffer.from('data: [DONE]\n\n');
run(`${EVENTS} events + usage`, [...deltas, Buffer.from(usage), done]);
run(`${EVENTS} events, no usage (estimated)`, [...deltas, done]);
