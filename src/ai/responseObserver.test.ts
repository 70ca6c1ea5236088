import { afterEach, describe, expect, it, vi } from 'vitest';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { ResponseObserver } from './responseObserver.js';
import { inspectRequest } from './inspectRequest.js';
import { countTextTokens } from './tokenizer.js';
import { observeEverySplit, observeSplit } from './__fixtures__/feed.js';
import { sseData } from './__fixtures__/sse.js';
import * as chat from './__fixtures__/openaiChat.js';
import * as other from './__fixtures__/openaiOther.js';
import * as anthropic from './__fixtures__/anthropic.js';
import * as mcp from './__fixtures__/mcp.js';

const JSON_TYPE = 'application/json';
const SSE_TYPE = 'text/event-stream; charset=utf-8';
const CHAT = '/v1/chat/completions';
const chatFacts = inspectRequest(CHAT, { ...chat.chatRequest, stream: true });

function usage(model: string | null, prompt: number | null, completion: number | null, total: number | null, tools: string[] = [], estimated = false) {
  return { model, promptTokens: prompt, completionTokens: completion, totalTokens: total, estimated, tools };
}

describe('ResponseObserver: JSON bodies, fed whole and split at every byte', () => {
  it('reads OpenAI chat completions', () => {
    const got = observeEverySplit(JSON.stringify(chat.chatBody), { contentType: JSON_TYPE, request: chatFacts, path: CHAT });
    expect(got).toEqual(usage('gpt-4o-mini-2024-07-18', 27, 8, 35));
  });

  it('reads tool_calls names, de-duplicated in order', () => {
    const got = observeEverySplit(JSON.stringify(chat.chatToolCallBody), { contentType: JSON_TYPE, request: chatFacts, path: CHAT });
    expect(got).toEqual(usage('gpt-4o-mini-2024-07-18', 82, 17, 99, ['get_weather', 'get_time']));
  });

  it('reads custom tools (chat) and MCP / custom tool calls (responses API)', () => {
    const customChat = {
      object: 'chat.completion',
      model: 'm',
      choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'custom', custom: { name: 'run_sql', input: 'select 1' } }] } }],
      usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 },
    };
    expect(observeEverySplit(JSON.stringify(customChat), { contentType: JSON_TYPE, request: chatFacts, path: CHAT }).tools).toEqual(['run_sql']);
    const responses = {
      object: 'response',
      model: 'm',
      output: [
        { type: 'mcp_call', name: 'ask_question', arguments: '{}', server_label: 'docs' },
        { type: 'custom_tool_call', name: 'run_sql', input: 'select 1' },
        { type: 'function_call', name: 'get_weather', arguments: '{}' },
      ],
      usage: { input_tokens: 5, output_tokens: 3, total_tokens: 8 },
    };
    const facts = inspectRequest('/v1/responses', { model: 'm', input: 'x' });
    expect(observeEverySplit(JSON.stringify(responses), { contentType: JSON_TYPE, request: facts, path: '/v1/responses' }).tools).toEqual(['ask_question', 'run_sql', 'get_weather']);
  });

  it('reads a compressed body (gzip, deflate, br) once it has ended, fed in pieces', () => {
    const body = Buffer.from(JSON.stringify(chat.chatBody));
    for (const [coding, packed] of [
      ['gzip', gzipSync(body)],
      ['deflate', deflateSync(body)],
      ['br', brotliCompressSync(body)],
    ] as const) {
      const o = new ResponseObserver({ contentType: JSON_TYPE, contentEncoding: coding, request: chatFacts, path: CHAT });
      for (let i = 0; i < packed.length; i += 7) o.write(packed.subarray(i, i + 7));
      expect([coding, o.finish()]).toEqual([coding, usage('gpt-4o-mini-2024-07-18', 27, 8, 35)]);
    }
    const stream = new ResponseObserver({ contentType: SSE_TYPE, contentEncoding: 'gzip', request: chatFacts, path: CHAT });
    stream.write(gzipSync(Buffer.from(chat.chatStreamWithUsage)));
    expect(stream.finish().totalTokens).not.toBeNull();
    const unknown = new ResponseObserver({ contentType: JSON_TYPE, contentEncoding: 'zstd', request: chatFacts, path: CHAT });
    unknown.write(body);
    expect(unknown.finish().estimated).toBe(true);
  });

  it('reads completions and embeddings (embeddings have no completion tokens)', () => {
    expect(observeEverySplit(JSON.stringify(other.completionBody), { contentType: JSON_TYPE, request: null, path: '/v1/completions' })).toEqual(
      usage('gpt-3.5-turbo-instruct', 5, 7, 12),
    );
    expect(observeEverySplit(JSON.stringify(other.embeddingsBody), { contentType: JSON_TYPE, request: null, path: '/v1/embeddings' })).toEqual(
      usage('text-embedding-3-small', 8, 0, 8),
    );
  });

  it('reads the responses API (input/output tokens, function_call items)', () => {
    const got = observeEverySplit(JSON.stringify(other.responsesBody), { contentType: JSON_TYPE, request: null, path: '/v1/responses' });
    expect(got).toEqual(usage('gpt-4.1-2025-04-14', 36, 87, 123, ['get_weather']));
  });

  it('reads Anthropic messages, counting cache reads as prompt tokens, and tool_use blocks', () => {
    const facts = inspectRequest('/v1/messages', anthropic.anthropicRequest);
    const got = observeEverySplit(JSON.stringify(anthropic.anthropicBody), { contentType: JSON_TYPE, request: facts, path: '/v1/messages' });
    expect(got).toEqual(usage('claude-sonnet-4-5-20250929', 572, 89, 661, ['get_weather']));
  });
});

describe('ResponseObserver: SSE streams, fed whole and split at every byte', () => {
  it('reads an OpenAI chat stream with include_usage', () => {
    const got = observeEverySplit(chat.chatStreamWithUsage, { contentType: SSE_TYPE, request: chatFacts, path: CHAT });
    expect(got).toEqual(usage('gpt-4o-mini-2024-07-18', 19, 5, 24));
  });

  it('reads streamed tool calls (name once per index) and the final usage chunk', () => {
    const got = observeEverySplit(chat.chatStreamToolCalls, { contentType: SSE_TYPE, request: chatFacts, path: CHAT });
    expect(got).toEqual(usage('gpt-4o-mini-2024-07-18', 90, 30, 120, ['get_weather', 'search_web']));
  });

  it('reads a completions stream', () => {
    const got = observeEverySplit(other.completionStream, { contentType: SSE_TYPE, request: null, path: '/v1/completions' });
    expect(got).toEqual(usage('gpt-3.5-turbo-instruct', 4, 5, 9));
  });

  it('reads a responses-API stream (usage from response.completed)', () => {
    const got = observeEverySplit(other.responsesStream, { contentType: SSE_TYPE, request: null, path: '/v1/responses' });
    expect(got).toEqual(usage('gpt-4.1-2025-04-14', 37, 11, 48, ['lookup_order']));
  });

  it('reads an Anthropic stream: message_start input, message_delta output, tool_use blocks', () => {
    const facts = inspectRequest('/v1/messages', { ...anthropic.anthropicRequest, stream: true });
    const got = observeEverySplit(anthropic.anthropicStream, { contentType: 'text/event-stream', request: facts, path: '/v1/messages' });
    expect(got).toEqual(usage('claude-sonnet-4-5-20250929', 472, 89, 561, ['get_weather']));
  });

  it('accepts CRLF and CR line ends', () => {
    for (const lineEnd of ['\r\n', '\r']) {
      const body = anthropic.anthropicStream.replaceAll('\n', lineEnd);
      const got = observeEverySplit(body, { contentType: SSE_TYPE, request: null, path: '/v1/messages' });
      expect(got).toEqual(usage('claude-sonnet-4-5-20250929', 472, 89, 561, ['get_weather']));
    }
  });
});

describe('ResponseObserver: estimates when no usage is reported', () => {
  it('charges the prompt estimate plus the tokenizer count of the streamed text', () => {
    const got = observeEverySplit(chat.chatStreamWithoutUsage, { contentType: SSE_TYPE, request: chatFacts, path: CHAT });
    const completion = countTextTokens(chat.streamedReplyText);
    const prompt = chatFacts.estimatedPromptTokens;
    expect(got).toEqual(usage('gpt-4o-mini-2024-07-18', prompt, completion, prompt + completion, [], true));
  });

  it('estimates a JSON answer without usage from its message text, model from the request if absent', () => {
    const body = { ...chat.chatBody, usage: undefined, model: undefined };
    const got = observeSplit(JSON.stringify(body), { contentType: JSON_TYPE, request: chatFacts, path: CHAT }, []);
    const completion = countTextTokens('It is sunny in Paris today.');
    expect(got).toEqual(usage('gpt-4o-mini', chatFacts.estimatedPromptTokens, completion, chatFacts.estimatedPromptTokens + completion, [], true));
  });

  it('estimates the output of an Anthropic stream cut before message_delta, keeping the reported input', () => {
    const cut = anthropic.anthropicStream.slice(0, anthropic.anthropicStream.indexOf('event: message_delta'));
    const got = observeSplit(cut, { contentType: SSE_TYPE, request: null, path: '/v1/messages' }, []);
    const completion = countTextTokens('Okay, let me check the weather.{"location": "San Francisco, CA"}');
    expect(got).toEqual(usage('claude-sonnet-4-5-20250929', 472, completion, 472 + completion, ['get_weather'], true));
  });

  it('estimates when the body is compressed, over the cap, or not JSON', () => {
    const prompt = chatFacts.estimatedPromptTokens;
    const expected = usage('gpt-4o-mini', prompt, 0, prompt, [], true);
    const body = JSON.stringify(chat.chatBody);
    expect(observeSplit(body, { contentType: JSON_TYPE, contentEncoding: 'gzip', request: chatFacts, path: CHAT }, [])).toEqual(expected);
    expect(observeSplit(body, { contentType: JSON_TYPE, maxBodyBytes: 100, request: chatFacts, path: CHAT }, [50])).toEqual(expected);
    expect(observeSplit('<html>oops</html>', { contentType: 'text/html', request: chatFacts, path: CHAT }, [])).toEqual(expected);
  });

  it('charges nothing for an upstream error that reported no usage', () => {
    const error = JSON.stringify({ error: { message: 'boom', type: 'server_error' } });
    expect(observeSplit(error, { contentType: JSON_TYPE, status: 500, request: chatFacts, path: CHAT }, [])).toEqual(usage('gpt-4o-mini', null, null, null));
  });

  it('drops an oversized SSE event but keeps reading the stream', () => {
    const huge = { ...chat.chatBody, object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: 'x'.repeat(5000) } }] };
    const body = sseData([huge, { model: 'm2', choices: [], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } }]);
    expect(observeSplit(body, { contentType: SSE_TYPE, maxBodyBytes: 1000, request: chatFacts, path: CHAT }, [10, 700, 4000])).toEqual(usage('m2', 1, 2, 3));
  });
});

describe('ResponseObserver: stream events that carry only text are parsed only when needed', () => {
  afterEach(() => vi.restoreAllMocks());

  const cutAnthropic = anthropic.anthropicStream.slice(0, anthropic.anthropicStream.indexOf('event: message_delta'));
  const streams: Array<[string, string, string]> = [
    ['chat with usage', chat.chatStreamWithUsage, CHAT],
    ['chat tool calls', chat.chatStreamToolCalls, CHAT],
    ['chat without usage', chat.chatStreamWithoutUsage, CHAT],
    ['completions', other.completionStream, '/v1/completions'],
    ['responses', other.responsesStream, '/v1/responses'],
    ['anthropic', anthropic.anthropicStream, '/v1/messages'],
    ['anthropic cut before message_delta', cutAnthropic, '/v1/messages'],
  ];

  it('gives exactly what parsing every event gives, also when the kept text overflows mid-stream', () => {
    for (const [name, body, path] of streams) {
      const base = { contentType: SSE_TYPE, request: path === CHAT ? chatFacts : null, path };
      const eager = observeSplit(body, { ...base, maxDeferredBytes: 0 }, []);
      expect(observeEverySplit(body, base), name).toEqual(eager);
      for (const cap of [1, 150, 400]) expect(observeSplit(body, { ...base, maxDeferredBytes: cap }, [7, 300]), `${name}, cap ${cap}`).toEqual(eager);
    }
  });

  it('parses only the events with the model, tool calls or usage when usage comes', () => {
    const deltas = Array.from({ length: 40 }, (_, i) => ({
      id: 'c1',
      object: 'chat.completion.chunk',
      model: 'gpt-4o',
      choices: [{ index: 0, delta: { content: ` w${i}` }, finish_reason: null }],
      usage: null,
    }));
    const final = { id: 'c1', object: 'chat.completion.chunk', model: 'gpt-4o', choices: [], usage: { prompt_tokens: 3, completion_tokens: 40, total_tokens: 43 } };
    const parse = vi.spyOn(JSON, 'parse');
    const got = observeSplit(sseData([...deltas, final]), { contentType: SSE_TYPE, request: chatFacts, path: CHAT }, []);
    expect(got).toEqual(usage('gpt-4o', 3, 40, 43));
    expect(parse).toHaveBeenCalledTimes(2); // the first event (model) and the usage chunk
    parse.mockClear();
    const estimated = observeSplit(sseData(deltas), { contentType: SSE_TYPE, request: chatFacts, path: CHAT }, []);
    expect(estimated.estimated).toBe(true);
    expect(estimated.completionTokens).toBe(countTextTokens(deltas.map((d) => d.choices[0]!.delta.content).join('')));
    expect(parse).toHaveBeenCalledTimes(40);
  });
});

describe('ResponseObserver: MCP, X-Tools-Used and non-AI traffic', () => {
  it('takes MCP tools from the request, whatever the response', () => {
    const facts = inspectRequest('/mcp', mcp.mcpToolCall);
    expect(observeEverySplit(mcp.mcpToolResultSse, { contentType: SSE_TYPE, request: facts, path: '/mcp' })).toEqual(usage(null, null, null, null, ['calculator']));
    const batch = inspectRequest('/messages', mcp.mcpBatch);
    expect(observeSplit('', { contentType: null, status: 202, request: batch, path: '/messages' }, [])).toEqual(usage(null, null, null, null, ['search', 'calculator']));
  });

  it('reads X-Tools-Used on any traffic, merged after the body tools without duplicates', () => {
    const agent = { contentType: JSON_TYPE, request: null, path: '/v1/agents/research/invoke', toolsHeader: ' search, calculator,,search ' };
    expect(observeSplit('{"output":"ok"}', agent, [])).toEqual(usage(null, null, null, null, ['search', 'calculator']));
    const got = observeSplit(JSON.stringify(chat.chatToolCallBody), { contentType: JSON_TYPE, request: chatFacts, path: CHAT, toolsHeader: ['get_time,browser', 'shell'] }, []);
    expect(got.tools).toEqual(['get_weather', 'get_time', 'browser', 'shell']);
  });

  it('leaves non-AI traffic alone: all nulls, not estimated', () => {
    const body = JSON.stringify({ model: 'x', usage: { prompt_tokens: 1, completion_tokens: 1 } });
    expect(observeSplit(body, { contentType: JSON_TYPE, request: inspectRequest('/api/things', {}), path: '/api/things' }, [])).toEqual(usage(null, null, null, null));
    // A bodiless call on an AI path (OpenAI's GET /v1/chat/completions lists stored completions).
    const list = JSON.stringify({ object: 'list', data: [] });
    expect(observeSplit(list, { contentType: JSON_TYPE, request: inspectRequest(CHAT, undefined), path: CHAT }, [])).toEqual(usage(null, null, null, null));
  });

  it('never throws on garbage and keeps returning the same result', () => {
    const noise = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256));
    for (const contentType of [JSON_TYPE, SSE_TYPE, undefined]) {
      const observer = new ResponseObserver({ contentType, request: chatFacts, path: CHAT, toolsHeader: '' });
      observer.write(noise);
      observer.write(Buffer.from('data: {"choices":[{"delta":{"tool_calls":[{"function":{"name":5}}]}}],"usage":"x"}\n\n'));
      observer.write(Buffer.from('data: [1,2]\n\ndata: null\n\n'));
      const first = observer.finish();
      expect(first.estimated).toBe(true);
      observer.write(Buffer.from('more'));
      expect(observer.finish()).toBe(first);
    }
  });
});
