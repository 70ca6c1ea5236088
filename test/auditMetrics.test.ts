import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import OpenAI from 'openai';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { connect } from 'node:net';
import { request } from 'undici';
import { runCli, startGateway, type GatewayProcess } from './helpers/gateway.js';
import { startUpstream, type TestUpstream } from './helpers/upstream.js';
import { freePort, waitFor } from './helpers/ports.js';
import { rsaPair, seedToken } from './helpers/jwt.js';
import { startDemoUpstreams, type DemoUpstreams } from '../src/demo/index.js';
import { AUDIT_FIELDS } from '../src/plugins/audit-log/record.js';
import { startPrometheus, type PrometheusServer } from './helpers/prometheus.js';

type Line = Record<string, unknown> & { request_id: string };

const MODEL = 'llama-3.3-8b-instruct';
const SECRETS = { badToken: 'not-a-jwt-but-a-SECRET-1', cookie: 'cookie-secret-abc', query: 'query-secret-xyz', prompt: 'purple-elephant-7' };
const WEATHER = { type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };
const TIME = { type: 'function' as const, function: { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string' } } } } };

/**
 * The whole observability story on one real gateway: a mix of requests (200, 401, 404, 429,
 * 502, 504, tool calls whole and streamed, a client that leaves mid-stream, MCP through the
 * official SDK) → exactly one audit line each with the right values and no secret; the same
 * traffic in /metrics (Kong names, promtool) and through a real Prometheus running the seed's
 * PromQL and the Grafana dashboard's queries.
 */
describe('audit log and metrics for a mix of real requests', { timeout: 120_000 }, () => {
  let demo: DemoUpstreams;
  let up: TestUpstream;
  let gw: GatewayProcess;
  let dir: string;
  let file: string;
  let token: string;
  let deadPort: number;
  /** X-Request-ID of every response this test received, with what the line must say. */
  const expected = new Map<string, Partial<Line>>();

  beforeAll(async () => {
    demo = await startDemoUpstreams();
    up = await startUpstream();
    dir = mkdtempSync(join(tmpdir(), 'tollgate-mix-'));
    file = join(dir, 'audit.log');
    const key = rsaPair(2048);
    token = await seedToken(key, 'admin-key', 'user-42');
    deadPort = await freePort();
    gw = await startGateway({
      services: [
        {
          name: 'llm-gateway',
          url: demo.openai,
          routes: [{ name: 'chat', paths: ['/v1/chat/completions'], strip_path: false }],
          plugins: [{ name: 'jwt' }, { name: 'token-budget', config: { day: 1_000_000, membership: 'open' } }],
        },
        { name: 'agent-router', url: demo.agentRouter, routes: [{ name: 'agents', paths: ['/v1/agents'], strip_path: false }] },
        { name: 'mcpjungle', url: demo.mcp, routes: [{ name: 'mcp', paths: ['/mcp'], strip_path: false }], plugins: [{ name: 'jwt' }] },
        {
          name: 'echo',
          url: up.url,
          routes: [{ name: 'limited', paths: ['/limited'], plugins: [{ name: 'rate-limiting', instance_name: 'per-ip', config: { minute: 1, limit_by: 'ip' } }] }],
        },
        { name: 'dead', url: `http://127.0.0.1:${deadPort}`, routes: [{ name: 'dead', paths: ['/dead'] }] },
        { name: 'slow-llm', url: demo.openai, read_timeout: 300, routes: [{ name: 'slow', paths: ['/slow'] }] },
      ],
      plugins: [{ name: 'audit-log', config: { path: file, tamper_evident: true } }, { name: 'prometheus' }],
      consumers: [{ username: 'ada-app', jwt_secrets: [{ key: 'admin-key', algorithm: 'RS256', rsa_public_key: key.publicPem }] }],
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await demo?.close();
    await up?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const lines = (): Line[] =>
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Line);

  async function call(path: string, opts: { method?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<{ status: number; id: string; text: string }> {
    const res = await request(`${gw.url}${path}`, {
      method: (opts.method ?? (opts.body === undefined ? 'GET' : 'POST')) as 'GET',
      headers: { ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }), ...opts.headers },
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    });
    return { status: res.statusCode, id: String(res.headers['x-request-id']), text: await res.body.text() };
  }

  /** Writes raw bytes, reads the answer until the gateway closes; its status and X-Request-ID. */
  async function raw(bytes: string): Promise<{ status: number; id: string }> {
    const socket = connect(gw.ports.proxy!, '127.0.0.1');
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('error', () => undefined); // the gateway may close before it read everything
    await new Promise((r) => socket.once('connect', r));
    socket.end(bytes);
    await new Promise((r) => socket.once('close', r));
    return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]), id: /\r\nX-Request-ID: ([^\r]+)\r\n/i.exec(text)?.[1] ?? '?' };
  }

  const openai = () => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: token, defaultHeaders: { 'X-Workspace-Id': 'ws-audit' }, maxRetries: 0 });
  const jwtIdentity = { user_id: 'user-42', consumer: 'ada-app', auth_method: 'jwt', workspace_id: 'ws-audit', service: 'llm-gateway', route: 'chat' };

  async function gatewayRefusals(): Promise<void> {
    const agent = await call('/v1/agents/research/invoke', { body: { input: 'hello' }, headers: { 'user-agent': 'mix-test/1.0' } });
    expected.set(agent.id, { status_code: 200, service: 'agent-router', route: 'agents', tools_used: ['search', 'calculator'], user_id: null, user_agent: 'mix-test/1.0', method: 'POST', path: '/v1/agents/research/invoke' });
    const chat = { model: MODEL, messages: [{ role: 'user', content: `remember ${SECRETS.prompt}` }] };
    const noToken = await call('/v1/chat/completions', { body: chat });
    // Refused before its body was read (the body waits for authentication): no model.
    expected.set(noToken.id, { status_code: 401, service: 'llm-gateway', route: 'chat', user_id: null, auth_method: null, model_name: null, tokens_used: null, tools_used: [] });
    const badToken = await call('/v1/chat/completions', { body: chat, headers: { authorization: `Bearer ${SECRETS.badToken}`, cookie: `session=${SECRETS.cookie}` } });
    expected.set(badToken.id, { status_code: 401, user_id: null });
    const noRoute = await call(`/nowhere?access_token=${SECRETS.query}`);
    expected.set(noRoute.id, { status_code: 404, service: null, route: null, path: '/nowhere', rate_limited: null });
    const first = await call('/limited/a');
    const second = await call('/limited/b');
    expect([first.status, second.status]).toEqual([200, 429]);
    expected.set(first.id, { status_code: 200, service: 'echo', route: 'limited', rate_limited: null });
    expected.set(second.id, { status_code: 429, service: 'echo', route: 'limited', rate_limited: 'per-ip', upstream_latency_ms: null });
    const dead = await call('/dead');
    expected.set(dead.id, { status_code: 502, service: 'dead', error: 'upstream connection refused' });
    const slow = await call('/slow/v1/chat/completions', { body: { model: MODEL, messages: [{ role: 'user', content: 'hi' }] }, headers: { 'x-demo-delay-ms': '3000' } });
    expected.set(slow.id, { status_code: 504, service: 'slow-llm', error: 'upstream read timeout', model_name: MODEL, tokens_used: null });
    for (const r of [noToken, badToken, noRoute, dead, slow]) expect(JSON.parse(r.text)).toEqual({ message: expect.any(String), request_id: r.id });

    // Refused by the HTTP parser, before any handler: still one record each (no query string in it).
    const huge = await raw(`GET /v1/chat/completions?access_token=${SECRETS.query} HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`);
    expect(huge.status).toBe(431);
    expected.set(huge.id, { status_code: 431, method: 'GET', path: '/v1/chat/completions', service: null, route: null, user_agent: null, error: 'request header fields too large', bytes_in: 0 });
    const broken = await raw('POST /v1/agents HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n');
    expect(broken.status).toBe(400);
    expected.set(broken.id, { status_code: 400, method: 'POST', path: '/v1/agents', service: null, error: 'malformed request (HPE_INVALID_HEADER_TOKEN)' });
    const garbage = await raw('\x16\x03\x01 not http at all\r\n\r\n');
    expect(garbage.status).toBe(400);
    expected.set(garbage.id, { status_code: 400, method: null, path: null, route: null, user_id: null });
  }

  async function llmTraffic(): Promise<void> {
    const whole = await openai()
      .chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'What is the weather in Paris?' }], tools: [WEATHER] })
      .withResponse();
    expect(whole.data.choices[0]!.message.tool_calls?.[0]?.type === 'function' && whole.data.choices[0]!.message.tool_calls[0].function.name).toBe('get_weather');
    const u = whole.data.usage!;
    expected.set(whole.response.headers.get('x-request-id')!, {
      ...jwtIdentity,
      status_code: 200,
      tools_used: ['get_weather'],
      model_name: whole.data.model,
      tokens_used: u.total_tokens,
      prompt_tokens: u.prompt_tokens,
      completion_tokens: u.completion_tokens,
      tokens_estimated: false,
    });

    const streamed = await openai()
      .chat.completions.create({ model: MODEL, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'use all tools please' }], tools: [WEATHER, TIME] })
      .withResponse();
    let usage: OpenAI.CompletionUsage | null = null;
    for await (const chunk of streamed.data) usage = chunk.usage ?? usage;
    expect(usage).not.toBeNull();
    expected.set(streamed.response.headers.get('x-request-id')!, {
      ...jwtIdentity,
      status_code: 200,
      tools_used: ['get_weather', 'get_time'],
      tokens_used: usage!.total_tokens,
      tokens_estimated: false,
    });

    // The client leaves after the first event of a slow stream.
    const abort = new AbortController();
    const gone = await openai()
      .chat.completions.create(
        { model: MODEL, stream: true, messages: [{ role: 'user', content: 'tell me a long story about gateways' }] },
        { signal: abort.signal, headers: { 'x-demo-delay-ms': '300' } },
      )
      .withResponse();
    const goneId = gone.response.headers.get('x-request-id')!;
    try {
      for await (const _chunk of gone.data) abort.abort();
    } catch {
      /* the SDK may report the abort as an error */
    }
    expected.set(goneId, { ...jwtIdentity, status_code: 200, error: 'client closed the connection' });
    await waitFor(() => lines().some((l) => l.request_id === goneId), 'the aborted stream logged');
  }

  async function mcpTraffic(): Promise<void> {
    const calls: { id: string; body: string }[] = [];
    const transport = new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
      fetch: async (url, init) => {
        const res = await fetch(url, init);
        calls.push({ id: res.headers.get('x-request-id') ?? '?', body: typeof init?.body === 'string' ? init.body : '' });
        return res;
      },
    });
    const client = new Client({ name: 'audit-test', version: '1.0.0' });
    await client.connect(transport);
    const result = await client.callTool({ name: 'calculator', arguments: { expression: '(2 + 3) * 4' } });
    expect(JSON.stringify(result.content)).toContain('20');
    await client.close();
    for (const c of calls) {
      const isCall = c.body.includes('"tools/call"');
      expected.set(c.id, { service: 'mcpjungle', user_id: 'user-42', auth_method: 'jwt', tools_used: isCall ? ['calculator'] : [] });
    }
    expect(calls.filter((c) => c.body.includes('"tools/call"'))).toHaveLength(1);
  }

  it('writes exactly one line per response, with the right values and no secret', async () => {
    await gatewayRefusals();
    await llmTraffic();
    await mcpTraffic();
    const all = await waitFor(() => {
      const l = lines();
      return l.length >= expected.size ? l : undefined;
    }, 'every request logged');
    expect(all.length).toBe(expected.size);
    expect(new Set(all.map((l) => l.request_id))).toEqual(new Set(expected.keys()));
    for (const line of all) {
      expect(Object.keys(line)).toEqual([...AUDIT_FIELDS, 'prev_hash', 'hash']);
      expect(line.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      expect(line.ip_address).toBe('127.0.0.1');
      expect(line.latency_ms).toEqual(expect.any(Number));
      expect(line).toMatchObject(expected.get(line.request_id)!);
    }
    const text = readFileSync(file, 'utf8');
    for (const secret of [token, ...Object.values(SECRETS)]) expect(text).not.toContain(secret);
    expect(text.toLowerCase()).not.toMatch(/authorization|cookie|bearer/);
    const verify = await runCli(['audit', 'verify', file]);
    expect(verify.code).toBe(0);
  });

  it('counts the same traffic in /metrics with Kong names, and promtool parses it', async () => {
    const all = lines();
    const res = await request(`${gw.statusUrl}/metrics`);
    expect(res.headers['content-type']).toContain('text/plain');
    const text = await res.body.text();
    const sample = (name: string, labels: string) => {
      const m = new RegExp(`^${name}\\{${labels.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\} (\\S+)$`, 'm').exec(text);
      return m ? Number(m[1]) : undefined;
    };
    const requests = (service: string, route: string, code: number, source: string, workspace = '') =>
      sample('kong_http_requests_total', `service="${service}",route="${route}",code="${code}",source="${source}",consumer="",workspace="${workspace}"`);
    expect(requests('llm-gateway', 'chat', 401, 'kong')).toBe(2);
    expect(requests('', '', 404, 'kong')).toBe(1);
    expect(requests('', '', 431, 'kong')).toBe(1);
    expect(requests('', '', 400, 'kong')).toBe(2);
    expect(requests('echo', 'limited', 429, 'kong')).toBe(1);
    expect(requests('echo', 'limited', 200, 'service')).toBe(1);
    expect(requests('dead', 'dead', 502, 'kong')).toBe(1);
    expect(requests('slow-llm', 'slow', 504, 'kong')).toBe(1);
    expect(requests('llm-gateway', 'chat', 200, 'service', 'ws-audit')).toBe(3);
    expect(sample('kong_rate_limiting_exceeded_total', 'instance="per-ip",limit_by="ip"')).toBe(1);
    const tokens = all.filter((l) => l.workspace_id === 'ws-audit').reduce((n, l) => n + Number(l.tokens_used ?? 0), 0);
    expect(tokens).toBeGreaterThan(0);
    expect(sample('kong_tokens_used_total', `workspace_id="ws-audit",model="${MODEL}"`)).toBe(tokens);
    expect(sample('kong_token_budget_remaining', 'workspace_id="ws-audit"')).toBe(1_000_000 - tokens);
    const dead = `127.0.0.1:${deadPort}`;
    expect(sample('kong_upstream_target_health', `upstream="dead",target="${dead}",address="${dead}",state="unhealthy"`)).toBe(1);
    expect(sample('kong_upstream_target_health', `upstream="dead",target="${dead}",address="${dead}",state="healthy"`)).toBe(0);
    expect(text).toMatch(/^kong_upstream_target_health\{upstream="agent-router",[^}]*state="healthy"\} 1$/m);
    expect(sample('kong_request_latency_ms_count', 'service="dead",route="dead"')).toBe(1);
    expect(sample('kong_upstream_latency_ms_count', 'service="echo",route="limited"')).toBe(1);
    expect(sample('kong_bandwidth_bytes', 'service="agent-router",route="agents",direction="ingress"')).toBeGreaterThan(0);
    expect(text).toMatch(/^kong_datastore_reachable 1$/m);
    expect(Number(/^kong_nginx_connections_total\{state="total"\} (\d+)$/m.exec(text)?.[1])).toBeGreaterThanOrEqual(all.length);
    expect(text).toMatch(/^kong_node_info\{node_id="[0-9a-f-]{36}",version="[^"]+"\} 1$/m);

    const promtool = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    const remarks = `${promtool.stdout}${promtool.stderr}`.split('\n').filter((l) => l.trim() !== '');
    // Exit 3 = lint remarks only (1 would be a parse error). The one remark is about Kong's own
    // `_ms` names, kept because the seed's PromQL queries them (src/plugins/prometheus/README.md).
    expect([0, 3]).toContain(promtool.status);
    expect(remarks.sort()).toEqual(
      ['kong_kong_latency_ms', 'kong_request_latency_ms', 'kong_upstream_latency_ms'].map((n) => `${n} metric names should not contain abbreviated units`),
    );
  });

  describe('with a real Prometheus scraping the gateway', () => {
    let prom: PrometheusServer;
    beforeAll(async () => {
      prom = await startPrometheus(`127.0.0.1:${gw.ports.status}`);
    });
    afterAll(async () => {
      await prom?.stop();
    });

    it('answers the seed\'s PromQL and every query of the Grafana dashboard', async () => {
      await prom.waitForScrapes(2);
      // Traffic between scrapes, so rates and quantiles have something to show.
      for (let i = 0; i < 3; i++) {
        await openai().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: `hello ${i}` }] });
        await call('/limited/again');
        await call('/nowhere');
      }
      await prom.waitForScrapes(2);
      const seed = [
        'rate(kong_http_requests_total[5m])',
        'histogram_quantile(0.95, rate(kong_request_latency_ms_bucket[5m]))',
        'sum by (workspace_id) (kong_tokens_used_total)',
        'rate(kong_rate_limiting_exceeded_total[5m])',
      ];
      for (const q of seed) expect((await prom.query(q)).length, q).toBeGreaterThan(0);
      const tokens = await prom.query('sum by (workspace_id) (kong_tokens_used_total)');
      expect(tokens.map((s) => s.metric.workspace_id)).toEqual(['ws-audit']);
      const p95 = await prom.query('histogram_quantile(0.95, sum by (le) (rate(kong_request_latency_ms_bucket{service="llm-gateway"}[5m])))');
      expect(Number(p95[0]!.value[1])).toBeGreaterThan(0);

      const dashboard = JSON.parse(readFileSync(join(import.meta.dirname, '../deploy/kubernetes/base/dashboards/tollgate.json'), 'utf8')) as DashboardJson;
      const exprs = dashboardQueries(dashboard);
      expect(exprs.length).toBeGreaterThanOrEqual(8);
      for (const q of exprs) await prom.query(q); // throws on a PromQL error
      const answered = [];
      for (const q of exprs) if ((await prom.query(q)).length > 0) answered.push(q);
      expect(answered.length, `queries with data:\n${answered.join('\n')}`).toBe(exprs.length);
    });
  });
});

interface DashboardJson {
  panels: { title: string; targets?: { expr: string }[]; panels?: DashboardJson['panels'] }[];
  templating: { list: { name: string }[] };
}

/** Every panel query, with Grafana's variables replaced as Grafana would for "All" and a 5 m range. */
function dashboardQueries(d: DashboardJson): string[] {
  const panels = d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  return panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr.replaceAll('$__rate_interval', '1m').replaceAll('$__range', '5m').replace(/\$(\w+)/g, '.*')));
}
