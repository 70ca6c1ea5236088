import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startGateway, type GatewayProcess } from '../../../test/helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../../../test/helpers/upstream.js';
import { waitFor } from '../../../test/helpers/ports.js';
import { bearer, hs256 } from '../../../test/helpers/jwt.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

const SECRET = 'prometheus-test-secret-0123456789abcdef';

describe('prometheus plugin options and reloads', () => {
  let up: TestUpstream;
  let gw: GatewayProcess;
  const token = hs256({ iss: 'svc-key', sub: 'svc', exp: Math.floor(Date.now() / 1000) + 3600 }, SECRET);
  const config = (routes: string[], opts: { url?: string; maxLabels?: number } = {}) => ({
    services: [
      {
        name: 'echo',
        url: opts.url ?? up.url,
        routes: routes.map((p) => ({ name: p.slice(1), paths: [p] })),
        plugins: [{ name: 'jwt' }, { name: 'token-budget', config: { day: 1_000_000, membership: 'open' } }],
      },
    ],
    plugins: [{ name: 'prometheus', config: { metric_prefix: 'tollgate', per_consumer: true, max_label_values: opts.maxLabels ?? 2 } }],
    consumers: [{ username: 'svc-user', jwt_secrets: [{ key: 'svc-key', algorithm: 'HS256', secret: SECRET }] }],
  });
  const call = async (path: string, workspace: string) => {
    const res = await request(`${gw.url}${path}`, { headers: { ...bearer(token), 'x-workspace-id': workspace } });
    await res.body.dump();
    return res.statusCode;
  };
  const metrics = async () => (await request(`${gw.statusUrl}/metrics`)).body.text();
  const requests = (text: string, route: string, workspace: string) =>
    Number(new RegExp(`^tollgate_http_requests_total\\{service="echo",route="${route}",code="200",source="service",consumer="svc-user",workspace="${workspace}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);

  beforeAll(async () => {
    up = await startUpstream();
    gw = await startGateway(config(['/main']));
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  it('uses metric_prefix for every name, fills consumer with per_consumer, bounds the workspace label', async () => {
    for (const ws of ['ws-a', 'ws-b', 'ws-c', 'ws-d']) expect(await call('/main/x', ws)).toBe(200);
    const text = await metrics();
    expect(text).not.toMatch(/^kong_/m);
    for (const name of ['http_requests_total', 'request_latency_ms', 'kong_latency_ms', 'upstream_latency_ms', 'bandwidth_bytes', 'datastore_reachable', 'nginx_connections_total', 'node_info', 'tokens_used_total', 'rate_limiting_exceeded_total', 'token_budget_remaining', 'upstream_target_health']) {
      expect(text).toContain(`# TYPE tollgate_${name} `);
    }
    expect(requests(text, 'main', 'ws-a')).toBe(1);
    expect(requests(text, 'main', 'ws-b')).toBe(1);
    expect(requests(text, 'main', '__other__')).toBe(2);
    expect(text).not.toContain('ws-c');
  });

  it('counts interleaved codes and workspaces of one route each in its own series', async () => {
    const series = (text: string, code: number, workspace: string) =>
      Number(new RegExp(`^tollgate_http_requests_total\\{service="echo",route="main",code="${code}",source="service",consumer="svc-user",workspace="${workspace}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    const before = await metrics();
    const sequence: Array<[string, string, number]> = [
      ['/main/status/201', 'ws-a', 201],
      ['/main/status/201', 'ws-a', 201],
      ['/main/status/503', 'ws-a', 503],
      ['/main/status/201', 'ws-a', 201],
      ['/main/status/201', 'ws-b', 201],
      ['/main/status/503', 'ws-b', 503],
      ['/main/status/201', 'ws-a', 201],
    ];
    for (const [path, ws, code] of sequence) expect(await call(path, ws)).toBe(code);
    const after = await metrics();
    const added = (code: number, ws: string) => series(after, code, ws) - series(before, code, ws);
    expect([added(201, 'ws-a'), added(503, 'ws-a'), added(201, 'ws-b'), added(503, 'ws-b')]).toEqual([4, 1, 1, 1]);
  });

  it('keeps counting across a config reload (new handlers, same metrics)', async () => {
    const before = requests(await metrics(), 'main', 'ws-a');
    gw.writeConfig(config(['/main', '/extra']));
    await waitFor(async () => (await call('/extra/x', 'ws-a')) === 200, 'route /extra after reload');
    expect(await call('/main/y', 'ws-a')).toBe(200);
    expect(await call('/main/z', 'ws-a')).toBe(200);
    const text = await metrics();
    expect(requests(text, 'main', 'ws-a')).toBe(before + 2);
    expect(requests(text, 'extra', 'ws-a')).toBeGreaterThanOrEqual(1);
    expect(text.match(/^# TYPE tollgate_http_requests_total counter$/gm)).toHaveLength(1);
  });

  it('a reload applies a new max_label_values, and a service moved to another URL leaves one target in its health series', async () => {
    const moved = await startUpstream();
    try {
      gw.writeConfig(config(['/main', '/extra'], { url: moved.url, maxLabels: 5 }));
      await waitFor(async () => (await call('/main/x', 'ws-a')) === 200 && moved.seen.length > 0, 'the reload to the moved service');
      expect(await call('/main/x', 'ws-e')).toBe(200);
      const text = await metrics();
      expect(requests(text, 'main', 'ws-e')).toBe(1); // beyond the old bound of 2, within the new 5
      const targets = [...text.matchAll(/^tollgate_upstream_target_health\{upstream="echo",target="([^"]+)"/gm)].map((m) => m[1]);
      expect(new Set(targets)).toEqual(new Set([`127.0.0.1:${moved.port}`]));
    } finally {
      await moved.close();
    }
  });

  it('a reload that changes metric_prefix, or drops the plugin, takes the old families off /metrics', async () => {
    const renamed = { ...config(['/main']), plugins: [{ name: 'prometheus', config: { metric_prefix: 'renamed' } }] };
    gw.writeConfig(renamed);
    await waitFor(async () => (await metrics()).includes('# TYPE renamed_http_requests_total') || undefined, 'the renamed families');
    expect(await metrics()).not.toMatch(/^tollgate_/m);
    const { plugins: _dropped, ...without } = renamed;
    gw.writeConfig(without);
    await waitFor(async () => !(await metrics()).includes('renamed_') || undefined, 'the families gone with the plugin');
  });
});

describe('prometheus: the audit sinks’ health', () => {
  let up: TestUpstream;
  let gw: GatewayProcess;
  let collector: Server;
  let answer = 500;
  let received = 0;
  beforeAll(async () => {
    up = await startUpstream();
    collector = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d));
      req.on('end', () => {
        if (answer === 200) received += (JSON.parse(body) as unknown[]).length;
        res.writeHead(answer).end();
      });
    });
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
    gw = await startGateway({
      services: [{ name: 'echo', url: up.url, routes: [{ name: 'r', paths: ['/r'] }] }],
      plugins: [
        { name: 'prometheus' },
        // Every write to /dev/full fails with ENOSPC: a disk that is full.
        { name: 'audit-log', instance_name: 'to-file', config: { path: '/dev/full' } },
        { name: 'audit-log', instance_name: 'to-collector', config: { http_endpoint: `http://127.0.0.1:${(collector.address() as AddressInfo).port}/audit`, batch_size: 1, retry_delay: '100ms', max_retry_delay: '200ms' } },
      ],
    });
  });
  afterAll(async () => {
    await gw?.stop();
    collector?.close();
    await up?.close();
  });
  const metrics = async () => (await request(`${gw.statusUrl}/metrics`)).body.text();
  const value = (text: string, name: string, sink: string) => Number(new RegExp(`^kong_${name}\\{sink="${sink}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);

  it('counts failed writes and deliveries and shows what is still pending, then the backlog clears when the endpoint answers', async () => {
    for (let i = 0; i < 3; i++) await (await request(`${gw.url}/r/${i}`)).body.dump();
    const failing = await waitFor(async () => {
      const text = await metrics();
      return value(text, 'audit_write_errors_total', 'file') > 0 && value(text, 'audit_write_errors_total', 'http') > 0 && value(text, 'audit_pending_records', 'http') === 3 ? text : undefined;
    }, 'write errors on both sinks and 3 records pending for the endpoint');
    expect(value(failing, 'audit_pending_records', 'file')).toBe(3);
    expect(failing).toContain('# TYPE kong_audit_write_errors_total counter');
    answer = 200;
    await waitFor(async () => value(await metrics(), 'audit_pending_records', 'http') === 0, 'the http backlog delivered');
    expect(received).toBe(3);
    const errorsAfter = value(await metrics(), 'audit_write_errors_total', 'http');
    expect(errorsAfter).toBeGreaterThan(0); // a counter: delivering the backlog does not lower it
  });
});
