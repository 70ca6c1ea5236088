import { sseData, sseNamed } from './sse.js';

/** OpenAI completions, embeddings and responses-API bodies and streams. */

export const completionBody = {
  id: 'cmpl-uqkvlQyYK7bGYrRHQ0eXlWi7',
  object: 'text_completion',
  created: 1589478378,
  model: 'gpt-3.5-turbo-instruct',
  system_fingerprint: 'fp_44709d6fcb',
  choices: [{ text: '\n\nThis is indeed a test', index: 0, logprobs: null, finish_reason: 'length' }],
  usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 },
};

export const completionStream = sseData([
  { id: 'cmpl-1', object: 'text_completion', created: 1, model: 'gpt-3.5-turbo-instruct', choices: [{ text: 'This', index: 0, logprobs: null, finish_reason: null }] },
  { id: 'cmpl-1', object: 'text_completion', created: 1, model: 'gpt-3.5-turbo-instruct', choices: [{ text: ' is a test', index: 0, logprobs: null, finish_reason: 'stop' }] },
  { id: 'cmpl-1', object: 'text_completion', created: 1, model: 'gpt-3.5-turbo-instruct', choices: [], usage: { prompt_tokens: 4, completion_tokens: 5, total_tokens: 9 } },
]);

export const embeddingsBody = {
  object: 'list',
  data: [{ object: 'embedding', embedding: [0.0023064255, -0.009327292, -0.0028842222], index: 0 }],
  model: 'text-embedding-3-small',
  usage: { prompt_tokens: 8, total_tokens: 8 },
};

export const responsesBody = {
  id: 'resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b',
  object: 'response',
  created_at: 1741476542,
  status: 'completed',
  model: 'gpt-4.1-2025-04-14',
  output: [
    {
      type: 'message',
      id: 'msg_67ccd2bf17f0819081ff3bb2cf6508e60bb6a6b452d3795b',
      status: 'completed',
      role: 'assistant',
      content: [{ type: 'output_text', text: 'In a peaceful grove beneath a silver moon...', annotations: [] }],
    },
    { type: 'function_call', id: 'fc_1', call_id: 'call_1', name: 'get_weather', arguments: '{"location":"Paris"}', status: 'completed' },
  ],
  usage: {
    input_tokens: 36,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: 87,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 123,
  },
};

const responseShell = { id: 'resp_1', object: 'response', created_at: 1741290958, model: 'gpt-4.1-2025-04-14', output: [] as object[], usage: null as object | null };

export const responsesStream = sseNamed([
  { type: 'response.created', sequence_number: 0, response: { ...responseShell, status: 'in_progress' } },
  { type: 'response.output_item.added', sequence_number: 1, output_index: 0, item: { id: 'msg_1', type: 'message', status: 'in_progress', role: 'assistant', content: [] } },
  { type: 'response.output_text.delta', sequence_number: 2, item_id: 'msg_1', output_index: 0, content_index: 0, delta: 'Hi' },
  { type: 'response.output_text.delta', sequence_number: 3, item_id: 'msg_1', output_index: 0, content_index: 0, delta: ' there' },
  { type: 'response.output_item.added', sequence_number: 4, output_index: 1, item: { id: 'fc_1', type: 'function_call', call_id: 'call_1', name: 'lookup_order', arguments: '' } },
  { type: 'response.function_call_arguments.delta', sequence_number: 5, item_id: 'fc_1', output_index: 1, delta: '{"id":42}' },
  {
    type: 'response.completed',
    sequence_number: 6,
    response: {
      ...responseShell,
      status: 'completed',
      output: [
        { id: 'msg_1', type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Hi there', annotations: [] }] },
        { id: 'fc_1', type: 'function_call', call_id: 'call_1', name: 'lookup_order', arguments: '{"id":42}' },
      ],
      usage: { input_tokens: 37, output_tokens: 11, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 48 },
    },
  },
]);
