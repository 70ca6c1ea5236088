import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAiServer } from './openaiServer.js';
import type { DemoServer } from './demoHttp.js';
import { inspectRequest, prepareUpstreamBody } from '../ai/inspectRequest.js';
import { ResponseObserver } from '../ai/responseObserver.js';
import type { AiUsage } from '../ai/types.js';

/**
 * The demo's Anthropic endpoint, and the demo read back through src/ai: for every API, JSON and
 * streamed, the ResponseObserver must find exactly the usage the demo reported.
 */
let server: DemoServer;
beforeAll(async () => {
  server = await startOpenAiServer();
});
afterAll(() => server.close());

async function call(path: string, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<{ usage: AiUsage; raw: string }> {
  const request = inspectRequest(path, body);
  const text = JSON.stringify(body);
  const sent = prepareUpstreamBody(path, body, Buffer.from(text))?.toString('utf8') ?? text;
  const res = await fetch(`${server.url}${path}`, { method: 'POST', body: sent, headers: { 'content-type': 'application/json', ...headers } });
  const observer = new ResponseObserver({ contentType: res.headers.get('content-type'), request, path, status: res.status, toolsHeader: res.headers.get('x-tools-used') });
  let raw = '';
  const reader = res.body?.getReader();
  for (let next = await reader?.read(); next && !next.done; next = await reader?.read()) {
    observer.write(Buffer.from(next.value));
    raw += Buffer.from(next.value).toString('utf8');
  }
  return { usage: observer.finish(), raw };
}

const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello there, demo' }] };
const tools = [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } } } } }];
const anthropic = { model: 'claude-sonnet-4-5', max_tokens: 100, system: 'Be kind.', messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello Claude' }] }] };
const anthropicTools = [{ name: 'get_weather', input_schema: { type: 'object', properties: { location: { type: 'string' } } } }];

describe('demo Anthropic messages', () => {
  it('answers JSON with usage and a tool_use block when tools are offered', async () => {
    const res = await fetch(`${server.url}/v1/messages`, { method: 'POST', body: JSON.stringify({ ...anthropic, tools: anthropicTools }) });
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ type: 'message', role: 'assistant', stop_reason: 'tool_use', content: [{ type: 'tool_use', name: 'get_weather', input: { location: 'Hello Claude' } }] });
    expect(body.usage).toMatchObject({ input_tokens: inspectRequest('/v1/messages', { ...anthropic, tools: anthropicTools }).estimatedPromptTokens });
  });

  it('streams message_start, content blocks, message_delta and message_stop', async () => {
    const { raw } = await call('/v1/messages', { ...anthropic, stream: true });
    const types = [...raw.matchAll(/^event: (\S+)$/gm)].map((match) => match[1]);
    expect(types[0]).toBe('message_start');
    expect(types.slice(-2)).toEqual(['message_delta', 'message_stop']);
    expect(types).toContain('content_block_delta');
  });

  it('requires max_tokens, as Anthropic does', async () => {
    const res = await fetch(`${server.url}/v1/messages`, { method: 'POST', body: JSON.stringify({ ...anthropic, max_tokens: undefined }) });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
  });
});

describe('the demo read through ResponseObserver', () => {
  const cases: Array<[string, string, Record<string, unknown>, string[]]> = [
    ['chat JSON', '/v1/chat/completions', chat, []],
    ['chat stream (include_usage injected)', '/v1/chat/completions', { ...chat, stream: true }, []],
    ['chat tool call stream', '/v1/chat/completions', { ...chat, tools, stream: true }, ['lookup']],
    ['completions stream', '/v1/completions', { model: 'm', prompt: 'abc', stream: true }, []],
    ['embeddings', '/v1/embeddings', { model: 'e', input: 'some words here' }, []],
    ['responses JSON', '/v1/responses', { model: 'm', input: 'hi', tools: [{ type: 'function', name: 'lookup', parameters: {} }] }, ['lookup']],
    ['responses stream', '/v1/responses', { model: 'm', input: 'hi', stream: true }, []],
    ['anthropic JSON', '/v1/messages', anthropic, []],
    ['anthropic stream with tools', '/v1/messages', { ...anthropic, tools: anthropicTools, stream: true }, ['get_weather']],
  ];
  it.each(cases)('%s: reported usage, not estimated', async (_name, path, body, expectedTools) => {
    const { usage } = await call(path, body);
    const prompt = inspectRequest(path, body).estimatedPromptTokens;
    expect(usage).toMatchObject({ estimated: false, promptTokens: prompt, tools: expectedTools });
    expect(usage.totalTokens).toBe(prompt + (usage.completionTokens ?? NaN));
    expect(usage.model).not.toBeNull();
  });

  it('without usage (x-demo-omit-usage) the estimate equals what the demo would have reported', async () => {
    for (const [path, body] of [['/v1/chat/completions', { ...chat, stream: true }], ['/v1/messages', { ...anthropic, stream: true }], ['/v1/responses', { model: 'm', input: 'hi' }]] as const) {
      const reported = (await call(path, body)).usage;
      const estimated = (await call(path, body, { 'x-demo-omit-usage': '1' })).usage;
      expect(estimated).toEqual({ ...reported, estimated: true });
    }
  });

  it('an error answer is charged nothing', async () => {
    const { usage } = await call('/v1/chat/completions', chat, { 'x-demo-status': '500' });
    expect(usage).toMatchObject({ promptTokens: null, totalTokens: null, estimated: false, model: 'gpt-4o-mini' });
  });
});
