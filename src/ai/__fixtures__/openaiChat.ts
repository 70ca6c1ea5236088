import { sseData } from './sse.js';

/** OpenAI chat completions bodies and streams, shaped like api.openai.com's. */

export const chatRequest = {
  model: 'gpt-4o-mini',
  messages: [
    { role: 'system', content: 'You are a helpful assistant.' },
    { role: 'user', content: 'What is the weather in Paris?' },
  ],
  max_tokens: 256,
};

export const chatBody = {
  id: 'chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT',
  object: 'chat.completion',
  created: 1741569952,
  model: 'gpt-4o-mini-2024-07-18',
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: 'It is sunny in Paris today.', refusal: null, annotations: [] },
      logprobs: null,
      finish_reason: 'stop',
    },
  ],
  usage: {
    prompt_tokens: 27,
    completion_tokens: 8,
    total_tokens: 35,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 },
  },
  service_tier: 'default',
  system_fingerprint: 'fp_06737a9306',
};

export const chatToolCallBody = {
  id: 'chatcmpl-abc123',
  object: 'chat.completion',
  created: 1699896916,
  model: 'gpt-4o-mini-2024-07-18',
  choices: [
    {
      index: 0,
      message: {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris"}' } },
          { id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '{"tz":"Europe/Paris"}' } },
          { id: 'call_3', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Rome"}' } },
        ],
      },
      logprobs: null,
      finish_reason: 'tool_calls',
    },
  ],
  usage: { prompt_tokens: 82, completion_tokens: 17, total_tokens: 99 },
};

const chunkBase = {
  id: 'chatcmpl-123',
  object: 'chat.completion.chunk',
  created: 1694268190,
  model: 'gpt-4o-mini-2024-07-18',
  system_fingerprint: 'fp_44709d6fcb',
};

function chunk(delta: object, finishReason: string | null = null, withUsageField = true): object {
  return {
    ...chunkBase,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...(withUsageField ? { usage: null } : {}),
  };
}

/** Streamed with include_usage: every chunk has `usage: null`, the extra last chunk the usage. */
export const chatStreamWithUsage = sseData([
  chunk({ role: 'assistant', content: '', refusal: null }),
  chunk({ content: 'Héllo' }),
  chunk({ content: ' wörld 🌍' }),
  chunk({ content: '!' }),
  chunk({}, 'stop'),
  { ...chunkBase, choices: [], usage: { prompt_tokens: 19, completion_tokens: 5, total_tokens: 24 } },
]);

/** The same answer streamed without include_usage: no usage anywhere. */
export const chatStreamWithoutUsage = sseData([
  chunk({ role: 'assistant', content: '' }, null, false),
  chunk({ content: 'Héllo' }, null, false),
  chunk({ content: ' wörld 🌍' }, null, false),
  chunk({ content: '!' }, null, false),
  chunk({}, 'stop', false),
]);

export const streamedReplyText = 'Héllo wörld 🌍!';

function toolDelta(index: number, fn: object, extra: object = {}): object {
  return { tool_calls: [{ index, ...extra, function: fn }] };
}

/** Two parallel tool calls streamed as deltas: the name arrives once per tool index. */
export const chatStreamToolCalls = sseData([
  chunk({ role: 'assistant', content: null, ...toolDelta(0, { name: 'get_weather', arguments: '' }, { id: 'call_a', type: 'function' }) }),
  chunk(toolDelta(0, { arguments: '{"loc' })),
  chunk(toolDelta(0, { arguments: 'ation": "Paris"}' })),
  chunk(toolDelta(1, { name: 'search_web', arguments: '' }, { id: 'call_b', type: 'function' })),
  chunk(toolDelta(1, { arguments: '{"q": "paris"}' })),
  chunk({}, 'tool_calls'),
  { ...chunkBase, choices: [], usage: { prompt_tokens: 90, completion_tokens: 30, total_tokens: 120 } },
]);
