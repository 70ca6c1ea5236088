import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { startOpenAiServer } from './openaiServer.js';
import type { DemoServer } from './demoHttp.js';
import type { RecordedRequest } from './lastRequest.js';
import { estimatePromptTokens } from '../ai/promptText.js';
import { countTextTokens } from '../ai/tokenizer.js';

let server: DemoServer;
let client: OpenAI;

beforeAll(async () => {
  server = await startOpenAiServer();
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'demo', maxRetries: 0 });
});
afterAll(() => server.close());

const messages = [
  { role: 'system' as const, content: 'You are terse.' },
  { role: 'user' as const, content: 'Say hello to tollgate' },
];
const expectedReply = 'Hello from the tollgate demo model! You said: "Say hello to tollgate".';
const promptTokens = estimatePromptTokens('openai-chat', { messages });

const weatherTools = [
  { type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } } } } },
  { type: 'function' as const, function: { name: 'get_time', parameters: { type: 'object', properties: {} } } },
];

async function lastRequest(): Promise<RecordedRequest> {
  return (await (await fetch(`${server.url}/debug/last-request`)).json()) as RecordedRequest;
}

describe('demo OpenAI service with the official openai SDK', () => {
  it('answers a plain chat completion with tokenizer-counted usage', async () => {
    const completion = await client.chat.completions.create({ model: 'llama-3.3-8b-instruct', messages });
    expect(completion.object).toBe('chat.completion');
    expect(completion.model).toBe('llama-3.3-8b-instruct');
    expect(completion.choices[0].message.content).toBe(expectedReply);
    expect(completion.choices[0].finish_reason).toBe('stop');
    const completionTokens = countTextTokens(expectedReply);
    expect(completion.usage).toMatchObject({ prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens });
  });

  it('streams chunks and reports usage only in a final chunk when include_usage is set', async () => {
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages, stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe(expectedReply);
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage?.completion_tokens).toBe(countTextTokens(expectedReply));
    expect(chunks.slice(0, -1).every((chunk) => chunk.usage === null)).toBe(true);
    expect(chunks.at(-2)?.choices[0].finish_reason).toBe('stop');
    expect((await lastRequest()).body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('streams without any usage when include_usage is not set', async () => {
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages, stream: true });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.every((chunk) => chunk.usage === undefined && chunk.choices.length === 1)).toBe(true);
  });

  it('calls the first offered tool, then answers from the tool result', async () => {
    const first = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'Weather in Paris?' }], tools: weatherTools });
    const call = first.choices[0].message.tool_calls?.[0];
    expect(first.choices[0].finish_reason).toBe('tool_calls');
    expect(first.choices[0].message.tool_calls).toHaveLength(1);
    expect(call?.type === 'function' && call.function.name).toBe('get_weather');
    expect(call?.type === 'function' && JSON.parse(call.function.arguments)).toEqual({ city: 'Weather in Paris?', days: 2 });
    const second = await client.chat.completions.create({
      model: 'm',
      tools: weatherTools,
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: first.choices[0].message.tool_calls },
        { role: 'tool', tool_call_id: call?.id ?? '', content: 'Sunny, 21 C' },
      ],
    });
    expect(second.choices[0].message.content).toBe('The tool returned: "Sunny, 21 C". That is all I needed.');
  });

  it('streams every tool when asked to "use all tools", as deltas the SDK accumulates', async () => {
    const stream = client.chat.completions.stream({ model: 'm', messages: [{ role: 'user', content: 'Please use all tools' }], tools: weatherTools, stream_options: { include_usage: true } });
    const final = await stream.finalChatCompletion();
    const names = final.choices[0].message.tool_calls?.map((call) => (call.type === 'function' ? call.function.name : ''));
    expect(names).toEqual(['get_weather', 'get_time']);
    expect(final.choices[0].finish_reason).toBe('tool_calls');
    expect(final.usage?.completion_tokens).toBeGreaterThan(0);
  });

  it('truncates to max_tokens / max_completion_tokens with finish_reason length', async () => {
    const plain = await client.chat.completions.create({ model: 'm', messages, max_tokens: 3 });
    expect(plain.choices[0].finish_reason).toBe('length');
    expect(plain.usage?.completion_tokens).toBe(3);
    expect(countTextTokens(plain.choices[0].message.content ?? '')).toBe(3);
    expect(expectedReply.startsWith(plain.choices[0].message.content ?? 'x')).toBe(true);
    const stream = await client.chat.completions.create({ model: 'm', messages, max_completion_tokens: 5, stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.at(-2)?.choices[0].finish_reason).toBe('length');
    expect(chunks.at(-1)?.usage?.completion_tokens).toBe(5);
  });

  it('serves completions, embeddings (base64, as the SDK asks) and models', async () => {
    const completion = await client.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'Once upon a time' });
    expect(completion.choices[0].finish_reason).toBe('length');
    expect(completion.usage).toMatchObject({ prompt_tokens: countTextTokens('Once upon a time'), completion_tokens: 16 });
    const embeddings = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['alpha', 'beta'] });
    expect(embeddings.data.map((item) => item.embedding.length)).toEqual([16, 16]);
    expect(Math.hypot(...embeddings.data[0].embedding)).toBeCloseTo(1, 5);
    expect(embeddings.usage).toEqual({ prompt_tokens: 2, total_tokens: 2 });
    const again = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'alpha', dimensions: 8, encoding_format: 'float' });
    expect(again.data[0].embedding).toHaveLength(8);
    const models = [];
    for await (const model of client.models.list()) models.push(model.id);
    expect(models).toContain('llama-3.3-8b-instruct');
  });

  it('serves the responses API, plain and streamed', async () => {
    const response = await client.responses.create({ model: 'gpt-4.1', input: 'Say hello to tollgate' });
    expect(response.output_text).toBe(expectedReply);
    expect(response.usage).toMatchObject({ input_tokens: countTextTokens('Say hello to tollgate'), output_tokens: countTextTokens(expectedReply) });
    const stream = await client.responses.create({ model: 'gpt-4.1', input: 'Say hello to tollgate', stream: true });
    let text = '';
    let completed = false;
    for await (const event of stream) {
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') completed = event.response.usage?.total_tokens === response.usage?.total_tokens;
    }
    expect(text).toBe(expectedReply);
    expect(completed).toBe(true);
  });
});

describe('demo OpenAI service knobs and debug endpoint', () => {
  it('x-demo-status answers an error in the API shape', async () => {
    const failed = client.chat.completions.create({ model: 'm', messages }, { headers: { 'x-demo-status': '503' } });
    await expect(failed).rejects.toMatchObject({ status: 503, type: 'server_error' });
  });

  it('x-demo-omit-usage never reports usage, x-demo-model overrides the model', async () => {
    const headers = { 'x-demo-omit-usage': '1', 'x-demo-model': 'demo-override' };
    const completion = await client.chat.completions.create({ model: 'm', messages }, { headers });
    expect(completion.usage).toBeUndefined();
    expect(completion.model).toBe('demo-override');
    const stream = await client.chat.completions.create({ model: 'm', messages, stream: true, stream_options: { include_usage: true } }, { headers });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.some((chunk) => chunk.usage)).toBe(false);
  });

  it('x-demo-delay-ms delays each SSE event', async () => {
    const started = Date.now();
    const stream = await client.completions.create({ model: 'm', prompt: 'x', max_tokens: 2, stream: true }, { headers: { 'x-demo-delay-ms': '40' } });
    let events = 0;
    for await (const chunk of stream) events += chunk.choices.length;
    expect(events).toBeGreaterThanOrEqual(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(40 * (events + 1) - 5);
  });

  it('GET /debug/last-request shows what was received, including x- headers', async () => {
    await client.chat.completions.create({ model: 'm', messages }, { headers: { 'x-user-id': 'user-1', 'x-forwarded-for': '10.1.2.3' } });
    const last = await lastRequest();
    expect(last).toMatchObject({ method: 'POST', path: '/v1/chat/completions', body: { model: 'm', messages } });
    expect(last.headers).toMatchObject({ 'x-user-id': 'user-1', 'x-forwarded-for': '10.1.2.3', authorization: 'Bearer demo' });
  });

  it('answers unknown paths 404 and bad bodies 400', async () => {
    expect((await fetch(`${server.url}/v1/nothing`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', body: 'not json' })).status).toBe(400);
    expect((await fetch(`${server.url}/v1/chat/completions`)).status).toBe(405);
  });
});
