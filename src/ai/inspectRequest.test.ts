import { describe, expect, it } from 'vitest';
import { inspectRequest, prepareUpstreamBody } from './inspectRequest.js';
import { countTextTokens } from './tokenizer.js';
import { chatRequest } from './__fixtures__/openaiChat.js';
import { anthropicRequest } from './__fixtures__/anthropic.js';
import { mcpBatch, mcpToolCall } from './__fixtures__/mcp.js';

const t = countTextTokens;

describe('inspectRequest', () => {
  it('reads an OpenAI chat request: model, max_tokens and a message-level prompt estimate', () => {
    const facts = inspectRequest('/v1/chat/completions', chatRequest);
    expect(facts).toEqual({
      api: 'openai-chat',
      model: 'gpt-4o-mini',
      stream: false,
      maxTokens: 256,
      estimatedPromptTokens: t('You are a helpful assistant.') + t('What is the weather in Paris?') + 2 * 3 + 3,
      promptTokensAtMost: t('You are a helpful assistant.') + t('What is the weather in Paris?') + 2 * 3 + 3, // all of it counted
      tools: [],
    });
  });

  it('matches paths by suffix (strip_path, Azure-style prefixes, trailing slash, query)', () => {
    for (const path of ['/llm/v1/chat/completions', '/openai/deployments/x/chat/completions?api-version=1', '/v1/chat/completions/']) {
      expect(inspectRequest(path, chatRequest).api).toBe('openai-chat');
    }
  });

  it('takes max_completion_tokens and max_output_tokens, and stream: true', () => {
    expect(inspectRequest('/v1/chat/completions', { ...chatRequest, max_tokens: undefined, max_completion_tokens: 99, stream: true })).toMatchObject({ maxTokens: 99, stream: true });
    expect(inspectRequest('/v1/responses', { model: 'gpt-4.1', input: 'hi', max_output_tokens: 50 }).maxTokens).toBe(50);
    expect(inspectRequest('/v1/chat/completions', { ...chatRequest, max_tokens: -1 }).maxTokens).toBeNull();
  });

  it('counts text parts, tool calls and tool results in messages, images at a flat rate', () => {
    const facts = inspectRequest('/v1/chat/completions', {
      model: 'gpt-4o',
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Describe this' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'lookup', arguments: '{"a":1}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: 'result text' },
      ],
    });
    expect(facts.estimatedPromptTokens).toBe(t('Describe this') + 85 + t('lookup') + t('{"a":1}') + t('result text') + 3 * 3 + 3);
  });

  it('counts tool definitions as JSON', () => {
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }];
    const plain = inspectRequest('/v1/chat/completions', chatRequest).estimatedPromptTokens;
    expect(inspectRequest('/v1/chat/completions', { ...chatRequest, tools }).estimatedPromptTokens).toBe(plain + t(JSON.stringify(tools)));
  });

  it('reads completions prompts and embeddings inputs, including token-id arrays', () => {
    expect(inspectRequest('/v1/completions', { model: 'm', prompt: 'Say this is a test' }).estimatedPromptTokens).toBe(t('Say this is a test'));
    expect(inspectRequest('/v1/completions', { model: 'm', prompt: [1, 2, 3] }).estimatedPromptTokens).toBe(3);
    expect(inspectRequest('/v1/embeddings', { model: 'e', input: ['alpha', 'beta gamma', [5, 6]] }).estimatedPromptTokens).toBe(t('alpha') + t('beta gamma') + 2);
  });

  it('reads responses-API input (string or items) and instructions', () => {
    expect(inspectRequest('/v1/responses', { model: 'gpt-4.1', instructions: 'Be brief.', input: 'Tell me a story' }).estimatedPromptTokens).toBe(t('Be brief.') + t('Tell me a story'));
    const items = { model: 'gpt-4.1', input: [{ role: 'user', content: [{ type: 'input_text', text: 'Hello there' }] }] };
    expect(inspectRequest('/v1/responses', items).estimatedPromptTokens).toBe(t('Hello there') + 3 + 3);
  });

  it('reads Anthropic messages with a system prompt and tools', () => {
    const facts = inspectRequest('/v1/messages', anthropicRequest);
    expect(facts).toMatchObject({ api: 'anthropic-messages', model: 'claude-sonnet-4-5', maxTokens: 1024, stream: false });
    expect(facts.estimatedPromptTokens).toBe(t('You are a weather bot.') + t('Weather in San Francisco?') + 3 + 3 + t(JSON.stringify(anthropicRequest.tools)));
  });

  it('reads MCP tools/call names from a single message and a batch, on any path', () => {
    expect(inspectRequest('/mcp', mcpToolCall)).toEqual({ api: 'mcp', model: null, stream: false, maxTokens: null, estimatedPromptTokens: 0, promptTokensAtMost: 0, tools: ['calculator'] });
    expect(inspectRequest('/mcp/jungle', mcpBatch).tools).toEqual(['search', 'calculator']);
    expect(inspectRequest('/messages', mcpToolCall).api).toBe('mcp');
    expect(inspectRequest('/mcp', { jsonrpc: '2.0', id: 1, method: 'tools/list' }).tools).toEqual([]);
  });

  it('gives empty facts for non-AI paths and garbage bodies', () => {
    const empty = { api: null, model: null, stream: false, maxTokens: null, estimatedPromptTokens: 0, promptTokensAtMost: 0, tools: [] };
    expect(inspectRequest('/v1/agents/research/invoke', { input: 'hi', model: 'x' })).toEqual(empty);
    expect(inspectRequest('/v1/threads/t1/messages', { role: 'user', content: 'hi' })).toEqual(empty);
    for (const garbage of [null, undefined, 42, 'text', [], [1, 2]]) {
      expect(inspectRequest('/healthz', garbage)).toEqual(empty);
      expect(inspectRequest('/v1/chat/completions', garbage)).toEqual(empty);
    }
    expect(inspectRequest('/v1/chat/completions', { messages: 'not an array', model: 7 })).toMatchObject({ model: null, estimatedPromptTokens: 0 });
  });

  it('bounds the cost of huge prompts by extrapolating from a sample', () => {
    const words = 'the quick brown fox jumps over the lazy dog and keeps running through the forest ';
    const text = words.repeat(13_000); // ~1 MB
    const started = performance.now();
    const estimate = inspectRequest('/v1/completions', { model: 'm', prompt: text }).estimatedPromptTokens;
    const elapsed = performance.now() - started;
    const exact = t(text);
    expect(Math.abs(estimate - exact) / exact).toBeLessThan(0.02);
    expect(elapsed).toBeLessThan(200);
  });
});

describe('prepareUpstreamBody', () => {
  const prepare = (path: string, json: unknown, text = JSON.stringify(json)) => {
    const out = prepareUpstreamBody(path, json, Buffer.from(text));
    return out === null ? null : (JSON.parse(out.toString('utf8')) as unknown);
  };

  it('adds stream_options.include_usage to streamed chat and completions requests, keeping other options', () => {
    const request = { ...chatRequest, stream: true, stream_options: { include_obfuscation: false } };
    expect(prepare('/v1/chat/completions', request)).toEqual({ ...request, stream_options: { include_obfuscation: false, include_usage: true } });
    expect(request.stream_options).toEqual({ include_obfuscation: false });
    expect(prepare('/v1/completions', { model: 'm', prompt: 'x', stream: true })).toEqual({ model: 'm', prompt: 'x', stream: true, stream_options: { include_usage: true } });
    expect(prepare('/v1/chat/completions', { ...chatRequest, stream: true, stream_options: { include_usage: false } })).toMatchObject({ stream_options: { include_usage: true } });
  });

  it('treats stream as a lenient upstream does: "true", "yes", 1 stream there, so they get include_usage too', () => {
    for (const stream of ['true', 'True', ' yes', 'on', '1', 1]) {
      expect(prepare('/v1/chat/completions', { ...chatRequest, stream }), String(stream)).toMatchObject({ stream, stream_options: { include_usage: true } });
      expect(inspectRequest('/v1/chat/completions', { ...chatRequest, stream }).stream, String(stream)).toBe(true);
    }
    for (const stream of [false, 'false', 'no', '0', 0, null, 'truthy', {}]) {
      expect(prepare('/v1/chat/completions', { ...chatRequest, stream }), String(stream)).toBeNull();
      expect(inspectRequest('/v1/chat/completions', { ...chatRequest, stream }).stream, String(stream)).toBe(false);
    }
  });

  it("inserts into the client's bytes when it sent no stream_options: big integers and key order unchanged", () => {
    const text = ' {"model":"m","seed":12345678901234567890,"stream":true,"messages":[{"role":"user","content":"hi"}]}';
    const out = prepareUpstreamBody('/v1/chat/completions', JSON.parse(text), Buffer.from(text))!.toString('utf8');
    expect(out).toBe(' {"stream_options":{"include_usage":true},"model":"m","seed":12345678901234567890,"stream":true,"messages":[{"role":"user","content":"hi"}]}');
  });

  it('a body nested too deep to serialise again is sent as is', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 20_000; i++) deep = [deep];
    const json = { model: 'm', stream: true, stream_options: { include_usage: false }, messages: [{ role: 'user', content: 'hi' }], metadata: deep };
    expect(prepareUpstreamBody('/v1/chat/completions', json, Buffer.from('{}'))).toBeNull();
  });

  it('returns null when nothing needs to change', () => {
    expect(prepare('/v1/chat/completions', chatRequest)).toBeNull();
    expect(prepare('/v1/chat/completions', { ...chatRequest, stream: true, stream_options: { include_usage: true } })).toBeNull();
    expect(prepare('/v1/responses', { model: 'm', input: 'x', stream: true })).toBeNull();
    expect(prepare('/v1/messages', { ...anthropicRequest, stream: true })).toBeNull();
    expect(prepare('/mcp', mcpToolCall)).toBeNull();
    expect(prepare('/v1/chat/completions', 'garbage')).toBeNull();
  });
});

describe('inspectRequest: what the budget reserves for', () => {
  it('the largest completion cap present, times n or best_of', () => {
    const body = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
    expect(inspectRequest('/v1/chat/completions', { ...body, max_tokens: 1000, n: 4 }).maxTokens).toBe(4000);
    expect(inspectRequest('/v1/completions', { model: 'm', prompt: 'x', max_tokens: 100, best_of: 5, n: 2 }).maxTokens).toBe(500);
    // Numbers as strings, which lenient upstreams (pydantic lax mode) honour.
    expect(inspectRequest('/v1/chat/completions', { ...body, max_tokens: '5000' }).maxTokens).toBe(5000);
    expect(inspectRequest('/v1/chat/completions', { ...body, max_tokens: 1000, n: '4' }).maxTokens).toBe(4000);
    expect(inspectRequest('/v1/chat/completions', { ...body, max_tokens: 'lots' }).maxTokens).toBeNull();
    expect(inspectRequest('/v1/chat/completions', { ...body, max_tokens: 1, max_completion_tokens: 4000 }).maxTokens).toBe(4000);
    expect(inspectRequest('/v1/chat/completions', { ...body, max_tokens: 10, n: 1_000_000 }).maxTokens).toBe(1280);
  });

  it('a body on a generative path that is not a JSON object is that API, its prompt bounded by its bytes', () => {
    const facts = inspectRequest('/v1/chat/completions', undefined, 321);
    expect(facts).toMatchObject({ api: 'openai-chat', estimatedPromptTokens: 321, maxTokens: null, model: null });
    expect(inspectRequest('/v1/messages', undefined, 50)).toMatchObject({ api: 'anthropic-messages', estimatedPromptTokens: 50 });
    expect(inspectRequest('/v1/models', undefined, 50).api).toBeNull();
  });
});
