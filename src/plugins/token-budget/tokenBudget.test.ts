import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import OpenAI from 'openai';
import { request } from 'undici';
import { startGateway, type GatewayProcess } from '../../../test/helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../../../test/helpers/upstream.js';
import { header, send } from '../../../test/helpers/limits.js';
import { waitFor } from '../../../test/helpers/ports.js';
import { sharedRedisUrl } from '../../../test/helpers/redis.js';
import { startDemoUpstreams, type DemoUpstreams } from '../../demo/index.js';

const MODEL = 'llama-3.3-8b-instruct';

interface WorkspaceView {
  id: string;
  limit: number;
  used: number;
  reserved: number;
  remaining: number;
  resets_at: string;
  token_budget_day: number | null;
  members: string[];
}

describe('token-budget: charging real usage (in-process counters, membership open)', () => {
  let demo: DemoUpstreams;
  let gw: GatewayProcess;

  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await request(`${gw.adminUrl}${path}`, {
      method: method as 'GET',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.body.text();
    return { status: res.statusCode, json: text === '' ? null : (JSON.parse(text) as WorkspaceView & { message?: string }) };
  };
  /** The workspace once no reservation is in flight (settling happens just after the response). */
  const settled = (id: string) =>
    waitFor(async () => {
      const r = await admin('GET', `/workspaces/${id}`);
      return r.json !== null && r.json.reserved === 0 ? r.json : undefined;
    }, `workspace ${id} settled`);
  const client = (workspace: string) => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', defaultHeaders: { 'X-Workspace-Id': workspace }, maxRetries: 0 });

  beforeAll(async () => {
    demo = await startDemoUpstreams();
    gw = await startGateway({
      services: [
        {
          name: 'llm-gateway',
          url: demo.openai,
          routes: [{ name: 'chat', paths: ['/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/models', '/v1/responses', '/v1/messages'], strip_path: false }],
          plugins: [{ name: 'token-budget', config: { day: 1_000_000, membership: 'open' } }],
        },
      ],
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await demo?.close();
  });

  it('the openai SDK, plain: charged exactly the upstream usage, shown in the headers and the Admin API', async () => {
    const { data, response } = await client('ws-sdk')
      .chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hello' }] })
      .withResponse();
    expect(response.headers.get('x-token-budget-limit')).toBe('1000000');
    expect(response.headers.get('x-token-budget-used')).toBe('0');
    expect(response.headers.get('x-token-budget-remaining')).toBe('1000000');
    const total = data.usage!.total_tokens;
    expect(total).toBeGreaterThan(0);
    const ws = await settled('ws-sdk');
    expect(ws).toMatchObject({ id: 'ws-sdk', limit: 1_000_000, used: total, reserved: 0, remaining: 1_000_000 - total });
    // the next response shows the usage of the previous one (the seed's example)
    const second = await client('ws-sdk').chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hello' }] }).withResponse();
    expect(second.response.headers.get('x-token-budget-used')).toBe(String(total));
    expect(second.response.headers.get('x-token-budget-remaining')).toBe(String(1_000_000 - total));
    expect((await settled('ws-sdk')).used).toBe(total + second.data.usage!.total_tokens);
  });

  it('the openai SDK, streaming: include_usage is added upstream and the streamed usage is charged', async () => {
    const messages = [{ role: 'user' as const, content: 'Tell me a story' }];
    const asked = await client('ws-stream').chat.completions.create({ model: MODEL, messages, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let total = 0;
    for await (const chunk of asked) {
      text += chunk.choices[0]?.delta?.content ?? '';
      total = chunk.usage?.total_tokens ?? total;
    }
    expect(text).toContain('Hello from the tollgate demo model');
    expect(total).toBeGreaterThan(0);
    expect((await settled('ws-stream')).used).toBe(total);

    // A client that did not ask sees what OpenAI sends it by default, no usage chunk (code
    // reading chunk.choices[0].delta works), and is charged all the same.
    for (const stream_options of [undefined, { include_usage: false }]) {
      const ws = `ws-stream-${stream_options === undefined ? 'default' : 'false'}`;
      const plain = await client(ws).chat.completions.create({ model: MODEL, messages, stream: true, ...(stream_options ? { stream_options } : {}) });
      let deltas = '';
      for await (const chunk of plain) {
        expect(chunk.usage ?? null).toBeNull();
        deltas += chunk.choices[0]!.delta.content ?? '';
      }
      expect(deltas).toBe(text);
      expect((await settled(ws)).used).toBe(total);
    }
  });

  it('responses API, embeddings and an Anthropic stream are charged their reported usage', async () => {
    const c = client('ws-apis');
    const resp = await c.responses.create({ model: MODEL, input: 'Hello there' });
    const emb = await c.embeddings.create({ model: 'text-embedding-3-small', input: ['one input', 'another input'] });
    const res = await request(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-workspace-id': 'ws-apis' },
      body: JSON.stringify({ model: MODEL, max_tokens: 200, stream: true, messages: [{ role: 'user', content: 'Hi Claude' }] }),
    });
    const sse = await res.body.text();
    const events = sse.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)) as { type: string; message?: { usage: { input_tokens: number } }; usage?: { output_tokens: number } });
    const input = events.find((e) => e.type === 'message_start')!.message!.usage.input_tokens;
    const output = events.filter((e) => e.type === 'message_delta').at(-1)!.usage!.output_tokens;
    expect((await settled('ws-apis')).used).toBe(resp.usage!.total_tokens + emb.usage.total_tokens + input + output);
  });

  it('no usage reported → the tokenizer estimate is charged; an upstream error → nothing', async () => {
    const c = client('ws-estimate');
    const r = await c.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 30 }, { headers: { 'x-demo-omit-usage': '1' } });
    expect(r.usage).toBeUndefined();
    const estimated = (await settled('ws-estimate')).used;
    expect(estimated).toBeGreaterThan(10);
    await expect(c.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hello' }] }, { headers: { 'x-demo-status': '500' } })).rejects.toMatchObject({ status: 500 });
    expect((await settled('ws-estimate')).used).toBe(estimated);
  });

  it('a client that goes away mid-stream is charged what was generated, and its reservation freed', async () => {
    const prompt = { model: MODEL, messages: [{ role: 'user' as const, content: 'Hello' }], max_tokens: 60 };
    const whole = await client('ws-whole').chat.completions.create(prompt);
    const stream = await client('ws-abort').chat.completions.create({ ...prompt, stream: true }, { headers: { 'x-demo-delay-ms': '100' } });
    let chunks = 0;
    for await (const chunk of stream) {
      if ((chunk.choices[0]?.delta?.content ?? '') !== '' && ++chunks === 3) break; // the SDK aborts the request
    }
    const ws = await settled('ws-abort');
    expect(ws.reserved).toBe(0);
    expect(ws.used).toBeGreaterThan(whole.usage!.prompt_tokens);
    expect(ws.used).toBeLessThan(whole.usage!.total_tokens);
  });

  it('reserves what a compressed body or a cap written as a string asks for (lenient upstreams honour both)', async () => {
    await admin('PUT', '/workspaces/ws-lax', { token_budget_day: 3000 });
    const body = { model: MODEL, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 5000 };
    const gz = await request(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', 'x-workspace-id': 'ws-lax' },
      body: gzipSync(JSON.stringify(body)),
    });
    await gz.body.dump();
    expect(gz.statusCode).toBe(429); // 5,000 tokens asked of a 3,000 budget
    const asString = await send(`${gw.url}/v1/chat/completions`, { headers: { 'X-Workspace-Id': 'ws-lax' }, body: { ...body, max_tokens: '5000' } });
    expect(asString.status).toBe(429);
    expect((await send(`${gw.url}/v1/chat/completions`, { headers: { 'X-Workspace-Id': 'ws-lax' }, body: { ...body, max_tokens: 20 } })).status).toBe(200);
  });

  it('an exhausted budget answers 429 with Retry-After to midnight, and the Admin API can raise or reset it', async () => {
    expect((await admin('PUT', '/workspaces/ws-small', { token_budget_day: 40 })).json).toMatchObject({ token_budget_day: 40, limit: 40 });
    const body = { model: MODEL, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 20 };
    const ok = await send(`${gw.url}/v1/chat/completions`, { headers: { 'X-Workspace-Id': 'ws-small' }, body });
    expect(ok.status).toBe(200);
    expect(header(ok, 'X-Token-Budget-Limit')).toBe('40');
    const used = (await settled('ws-small')).used;
    const refused = await send(`${gw.url}/v1/chat/completions`, { headers: { 'X-Workspace-Id': 'ws-small' }, body });
    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.body)).toMatchObject({ message: 'Daily token budget exhausted for this workspace' });
    const toMidnight = 86_400 - (Math.floor(Date.now() / 1000) % 86_400);
    expect(Math.abs(Number(header(refused, 'Retry-After')) - toMidnight)).toBeLessThanOrEqual(5);
    expect(header(refused, 'X-Token-Budget-Used')).toBe(String(used));
    expect(header(refused, 'X-Token-Budget-Remaining')).toBe(String(40 - used));
    const view = (await admin('GET', '/workspaces/ws-small')).json!;
    expect(new Date(view.resets_at).getTime()).toBe((Math.floor(Date.now() / 86_400_000) + 1) * 86_400_000);

    await admin('PUT', '/workspaces/ws-small', { token_budget_day: 10_000 });
    expect((await send(`${gw.url}/v1/chat/completions`, { headers: { 'X-Workspace-Id': 'ws-small' }, body })).status).toBe(200);
    await settled('ws-small');
    expect((await admin('POST', '/workspaces/ws-small/usage/reset')).json).toMatchObject({ used: 0, reserved: 0, remaining: 10_000 });
    expect((await admin('PUT', '/workspaces/ws-small', { token_budget_day: null })).json).toMatchObject({ token_budget_day: null, limit: 1_000_000 });
  });

  it('40 concurrent requests against a budget that fits 10: exactly 10 run, the budget is never overspent', async () => {
    const body = { model: MODEL, messages: [{ role: 'user' as const, content: 'Hello' }], max_tokens: 5 };
    const warm = await client('ws-warm').chat.completions.create(body);
    const perRequest = warm.usage!.total_tokens; // = the reservation: the reply is cut at max_tokens
    const limit = 10 * perRequest + Math.floor(perRequest / 2);
    await admin('PUT', '/workspaces/ws-burst', { token_budget_day: limit });
    const replies = await Promise.all(Array.from({ length: 40 }, () => send(`${gw.url}/v1/chat/completions`, { headers: { 'X-Workspace-Id': 'ws-burst' }, body })));
    expect(replies.filter((r) => r.status === 200)).toHaveLength(10);
    expect(replies.filter((r) => r.status === 429)).toHaveLength(30);
    const ws = await settled('ws-burst');
    expect(ws.used).toBe(10 * perRequest);
    expect(ws.used).toBeLessThanOrEqual(limit);
  });

  it('a chat completion cannot dodge its reservation: a "jsonrpc" field or a missing Content-Type still reserves and charges', async () => {
    const body = { model: MODEL, messages: [{ role: 'user' as const, content: 'Hello' }], max_tokens: 5 };
    const perRequest = (await client('ws-warm').chat.completions.create(body)).usage!.total_tokens;
    const limit = 3 * perRequest + Math.floor(perRequest / 2);
    const variants: Array<[string, string, Record<string, string>]> = [
      ['ws-rpc', JSON.stringify({ ...body, jsonrpc: '2.0' }), { 'content-type': 'application/json' }],
      ['ws-no-ct', JSON.stringify(body), {}],
    ];
    for (const [ws, text, headers] of variants) {
      await admin('PUT', `/workspaces/${ws}`, { token_budget_day: limit });
      const statuses = await Promise.all(
        Array.from({ length: 12 }, async () => {
          const res = await request(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { ...headers, 'x-workspace-id': ws }, body: text });
          await res.body.text();
          return res.statusCode;
        }),
      );
      expect([ws, statuses.filter((s) => s === 200).length]).toEqual([ws, 3]);
      const w = await settled(ws);
      expect([ws, w.used]).toEqual([ws, 3 * perRequest]);
    }
  });

  it('every response of the route carries the headers; a missing workspace is 400', async () => {
    const models = await send(`${gw.url}/v1/models`, { headers: { 'X-Workspace-Id': 'ws-models' } });
    expect(models.status).toBe(200);
    expect(header(models, 'X-Token-Budget-Limit')).toBe('1000000');
    const none = await send(`${gw.url}/v1/models`);
    expect(none.status).toBe(400);
    expect(JSON.parse(none.body)).toMatchObject({ message: 'X-Workspace-Id required' });
    const bad = await send(`${gw.url}/v1/models`, { headers: { 'X-Workspace-Id': 'has space' } });
    expect(bad.status).toBe(400);
  });

  it('Admin API: validation, members, unknown member', async () => {
    expect((await admin('PUT', '/workspaces/ws-admin', { token_budget_day: -1 })).status).toBe(400);
    expect((await admin('PUT', '/workspaces/ws-admin', { token_budget_day: 5, extra: 1 })).status).toBe(400);
    expect((await admin('PUT', '/workspaces/ws-admin/members/user-7')).json).toMatchObject({ workspace_id: 'ws-admin', user_id: 'user-7' });
    expect((await admin('GET', '/workspaces/ws-admin')).json).toMatchObject({ members: ['user-7'], limit: 1_000_000, used: 0 });
    expect((await admin('DELETE', '/workspaces/ws-admin/members/user-7')).status).toBe(204);
    expect((await admin('DELETE', '/workspaces/ws-admin/members/user-7')).status).toBe(404);
    const form = await request(`${gw.adminUrl}/workspaces/ws-admin`, { method: 'PUT', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token_budget_day=77' });
    expect(((await form.body.json()) as WorkspaceView).limit).toBe(77);
    expect((await admin('DELETE', '/workspaces/ws-admin')).status).toBe(204);
    expect((await admin('DELETE', '/workspaces/ws-admin')).status).toBe(404);
  });
});

describe('token-budget: headers as known when they leave', () => {
  let up: TestUpstream;
  let gw: GatewayProcess;
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => (release = r));

  beforeAll(async () => {
    // An OpenAI-shaped upstream; a request with `x-gate` is answered only once the test says so.
    up = await startUpstream(async (req, res) => {
      if (req.headers['x-gate']) await gate;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'chat.completion', model: 'm', choices: [], usage: { prompt_tokens: 10, completion_tokens: 20, total_tokens: 30 } }));
    });
    gw = await startGateway({
      services: [{ name: 'llm', url: up.url, routes: [{ name: 'chat', paths: ['/v1/chat/completions'], strip_path: false }], plugins: [{ name: 'token-budget', config: { day: 1000, membership: 'open', default_completion_reservation: 100 } }] }],
    });
  });
  afterAll(async () => {
    release();
    await gw?.stop();
    await up?.close();
  });

  it('a response that leaves after another request settled shows that usage', async () => {
    const body = { model: 'm', messages: [{ role: 'user', content: 'Hello' }] };
    const slow = send(`${gw.url}/v1/chat/completions`, { headers: { 'X-Workspace-Id': 'ws-h', 'x-gate': '1' }, body });
    const view = async () => (await (await request(`${gw.adminUrl}/workspaces/ws-h`)).body.json()) as WorkspaceView;
    const slowReservation = (await waitFor(async () => ((await view()).reserved > 0 ? view() : undefined), 'slow request admitted')).reserved;
    const fast = await send(`${gw.url}/v1/chat/completions`, { headers: { 'X-Workspace-Id': 'ws-h' }, body });
    expect(header(fast, 'X-Token-Budget-Used')).toBe('0');
    expect(header(fast, 'X-Token-Budget-Remaining')).toBe(String(1000 - slowReservation));
    await waitFor(async () => (await view()).used === 30 || undefined, 'fast request settled');
    release();
    const late = await slow;
    expect(late.status).toBe(200);
    expect(header(late, 'X-Token-Budget-Used')).toBe('30');
    expect(header(late, 'X-Token-Budget-Remaining')).toBe('970');
  });
});

describe.each(['local', 'redis'] as const)('token-budget: a stream that outlives the reservation TTL (%s counters)', (policy) => {
  let demo: DemoUpstreams;
  let gw: GatewayProcess;
  const TTL_MS = 1500; // renewed every 500 ms while the stream lasts

  beforeAll(async () => {
    demo = await startDemoUpstreams();
    gw = await startGateway(
      {
        ...(policy === 'redis' ? { gateway: { redis: sharedRedisUrl() } } : {}),
        services: [
          {
            name: 'llm-gateway',
            url: demo.openai,
            routes: [{ name: 'chat', paths: ['/v1/chat/completions'], strip_path: false }],
            plugins: [{ name: 'token-budget', config: { day: 1_000_000, membership: 'open', policy } }],
          },
        ],
      },
      { env: { TOLLGATE_BUDGET_RESERVATION_TTL_MS: String(TTL_MS) } },
    );
  });
  afterAll(async () => {
    await gw?.stop();
    await demo?.close();
  });

  it('keeps its tokens reserved until it ends, so a concurrent request cannot spend them again', async () => {
    const ws = `ws-long-${policy}`;
    const view = async () => (await (await request(`${gw.adminUrl}/workspaces/${ws}`)).body.json()) as WorkspaceView;
    const chat = { model: MODEL, messages: [{ role: 'user' as const, content: 'Hello' }], max_tokens: 60 };
    const openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', defaultHeaders: { 'X-Workspace-Id': ws }, maxRetries: 0 });
    // ~20 events 200 ms apart: the stream lasts about 4 s, more than twice the TTL.
    const reply = 'one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen';
    const stream = await openai.chat.completions.create({ ...chat, stream: true, stream_options: { include_usage: true } }, { headers: { 'x-demo-delay-ms': '200', 'x-demo-reply': reply } });
    const chunks = stream[Symbol.asyncIterator]();
    await chunks.next();
    const reservation = (await view()).reserved;
    expect(reservation).toBeGreaterThan(60);
    // Room for this stream's reservation and half of another one.
    await request(`${gw.adminUrl}/workspaces/${ws}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token_budget_day: Math.floor(reservation * 1.5) }) });

    await new Promise((r) => setTimeout(r, 2 * TTL_MS + 300));
    expect((await view()).reserved).toBe(reservation);
    const second = await send(`${gw.url}/v1/chat/completions`, { headers: { 'X-Workspace-Id': ws }, body: chat });
    expect(second.status).toBe(429);

    let usage = 0;
    for (let c = await chunks.next(); !c.done; c = await chunks.next()) usage = c.value.usage?.total_tokens ?? usage;
    expect(usage).toBeGreaterThan(0);
    await waitFor(async () => ((await view()).reserved === 0 ? true : undefined), 'the stream settled');
    expect(await view()).toMatchObject({ used: usage, reserved: 0 });
  });
});

describe('token-budget: what a request reserves and is charged, whatever its body', () => {
  let up: TestUpstream;
  let gw: GatewayProcess;
  let dir: string;
  const usage = { prompt_tokens: 10, completion_tokens: 20, total_tokens: 30 };
  const view = async (ws: string) => (await (await request(`${gw.adminUrl}/workspaces/${ws}`)).body.json()) as WorkspaceView;
  const auditLines = () => readFileSync(join(dir, 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { request_id: string; tokens_used: number | null; tokens_estimated: boolean | null });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-tb-body-'));
    // An upstream that, like Python's json, accepts what JSON.parse refuses (a BOM, NaN).
    up = await startUpstream((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(req.method === 'GET' ? { object: 'list', data: [] } : { object: 'chat.completion', model: 'm', choices: [], usage }));
    });
    gw = await startGateway({
      services: [{ name: 'llm', url: up.url, routes: [{ name: 'chat', paths: ['/v1'], strip_path: false }], plugins: [{ name: 'token-budget', config: { day: 1_000_000, membership: 'open', default_completion_reservation: 100 } }] }],
      plugins: [{ name: 'audit-log', config: { path: join(dir, 'audit.log') } }],
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a body JavaScript cannot parse (a BOM, NaN) still reserves and is charged its usage', async () => {
    for (const [ws, text] of [
      ['ws-bom', '\uFEFF{"model":"m","messages":[{"role":"user","content":"hi"}]}'],
      ['ws-nan', '{"model":"m","temperature":NaN,"messages":[{"role":"user","content":"hi"}]}'],
    ] as const) {
      const res = await request(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-workspace-id': ws }, body: text });
      await res.body.text();
      expect([ws, res.statusCode]).toEqual([ws, 200]);
      const w = await waitFor(async () => {
        const v = await view(ws);
        return v.reserved === 0 ? v : undefined;
      }, `${ws} settled`);
      expect([ws, w.used]).toEqual([ws, 30]);
    }
  });

  it('n completions reserve n times the cap: a request that could overspend is refused up front', async () => {
    await request(`${gw.adminUrl}/workspaces/ws-n`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token_budget_day: 3000 }) });
    const chat = { model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1000 };
    const one = await send(`${gw.url}/v1/chat/completions`, { headers: { 'X-Workspace-Id': 'ws-n' }, body: chat });
    expect(one.status).toBe(200);
    const four = await send(`${gw.url}/v1/chat/completions`, { headers: { 'X-Workspace-Id': 'ws-n' }, body: { ...chat, n: 4 } });
    expect(four.status).toBe(429);
  });

  it('a GET on an AI path (listing stored completions) is not accounted as a generation', async () => {
    const res = await request(`${gw.url}/v1/chat/completions`, { headers: { 'x-workspace-id': 'ws-get' } });
    const id = String(res.headers['x-request-id']);
    await res.body.text();
    const line = await waitFor(() => auditLines().find((l) => l.request_id === id), 'the audit line');
    expect(line).toMatchObject({ tokens_used: null, tokens_estimated: null });
  });
});
