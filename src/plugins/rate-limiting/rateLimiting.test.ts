import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type GatewayProcess } from '../../../test/helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../../../test/helpers/upstream.js';
import { sharedRedisUrl } from '../../../test/helpers/redis.js';
import { bearer, rsaPair, seedToken, type RsaPair } from '../../../test/helpers/jwt.js';
import { awayFromWindowEdge, header, send, unique, waitReady, type Reply } from '../../../test/helpers/limits.js';

const CHAT = { model: 'llama-3.3-8b-instruct', messages: [{ role: 'user', content: 'Hello' }] };

function chatService(url: string, plugins: unknown[] = []) {
  return { name: 'llm-gateway', url, routes: [{ name: 'chat', paths: ['/v1/chat/completions', '/v1/models'], strip_path: false }], plugins };
}

describe('rate-limiting: the seed test (105 rapid requests, 100/minute per IP)', () => {
  let up: TestUpstream;
  const gateways: Record<string, GatewayProcess> = {};

  beforeAll(async () => {
    up = await startUpstream();
    const perIp = (policy: string) => ({ name: 'rate-limiting', instance_name: unique('per-ip'), config: { minute: 100, limit_by: 'ip', policy } });
    [gateways.local, gateways.redis] = await Promise.all([
      startGateway({ services: [chatService(up.url)], plugins: [perIp('local')] }),
      startGateway({ gateway: { redis: sharedRedisUrl() }, services: [chatService(up.url)], plugins: [perIp('redis')] }),
    ]);
    await waitReady(gateways.redis!);
  });
  afterAll(async () => {
    await Promise.all(Object.values(gateways).map((g) => g.stop()));
    await up?.close();
  });

  for (const policy of ['local', 'redis']) {
    it(`policy ${policy}: first 100 → 200, 101-105 → 429, with the headers`, async () => {
      const gw = gateways[policy]!;
      await awayFromWindowEdge(60_000, 15_000);
      const seenBefore = up.seen.length;
      const replies: Reply[] = [];
      for (let i = 0; i < 105; i++) replies.push(await send(`${gw.url}/v1/chat/completions`, { body: CHAT }));
      expect(replies.map((r) => r.status)).toEqual([...Array<number>(100).fill(200), ...Array<number>(5).fill(429)]);

      const first = replies[0]!;
      expect(header(first, 'X-RateLimit-Limit-Minute')).toBe('100');
      expect(header(first, 'X-RateLimit-Remaining-Minute')).toBe('99');
      expect(header(first, 'RateLimit-Limit')).toBe('100');
      expect(header(first, 'RateLimit-Remaining')).toBe('99');
      const resetIn = Number(header(first, 'RateLimit-Reset'));
      expect(resetIn).toBeGreaterThanOrEqual(1);
      expect(resetIn).toBeLessThanOrEqual(60);
      const resetAt = Number(header(first, 'X-RateLimit-Reset'));
      expect(resetAt).toBeGreaterThan(Date.now() / 1000 - 5);
      expect(resetAt).toBeLessThanOrEqual(Date.now() / 1000 + 61);
      expect(replies.slice(0, 100).map((r) => header(r, 'X-RateLimit-Remaining-Minute'))).toEqual(Array.from({ length: 100 }, (_, i) => String(99 - i)));

      for (const refused of replies.slice(100)) {
        expect(header(refused, 'X-RateLimit-Limit-Minute')).toBe('100');
        expect(header(refused, 'X-RateLimit-Remaining-Minute')).toBe('0');
        expect(header(refused, 'RateLimit-Remaining')).toBe('0');
        const retry = Number(header(refused, 'Retry-After'));
        expect(retry).toBeGreaterThanOrEqual(1);
        expect(retry).toBeLessThanOrEqual(120);
        expect(header(refused, 'content-type')).toMatch(/^application\/json/);
        const body = JSON.parse(refused.body) as { message: string; request_id: string };
        expect(body.message).toBe('API rate limit exceeded');
        expect(body.request_id).toBe(header(refused, 'X-Request-ID'));
      }
      // Refused requests never reached the upstream.
      expect(up.seen.length - seenBefore).toBe(100);
    });
  }
});

describe('rate-limiting: keys, layers and options (one gateway, in-process counters)', () => {
  let up: TestUpstream;
  let gw: GatewayProcess;
  let trusting: GatewayProcess;

  beforeAll(async () => {
    up = await startUpstream();
    const svc = (name: string, path: string, plugins: unknown[]) => ({ name, url: up.url, routes: [{ name, paths: [path] }], plugins });
    const services = [
      svc('xff', '/xff', [{ name: 'rate-limiting', config: { hour: 3, limit_by: 'ip' } }]),
      svc('users', '/users', [{ name: 'rate-limiting', config: { hour: 2, limit_by: 'header', header_name: 'X-Caller' } }]),
      svc('layers', '/layers', [
        { name: 'rate-limiting', instance_name: 'per-ip', config: { minute: 10, limit_by: 'ip' } },
        { name: 'rate-limiting', instance_name: 'per-caller', config: { hour: 3, limit_by: 'header', header_name: 'X-Caller' } },
      ]),
      svc('same-period', '/same', [
        { name: 'rate-limiting', instance_name: 'wide', config: { minute: 50, limit_by: 'ip' } },
        { name: 'rate-limiting', instance_name: 'narrow', config: { minute: 5, hour: 20, limit_by: 'header', header_name: 'X-Caller' } },
      ]),
      svc('hidden', '/hidden', [
        { name: 'rate-limiting', config: { hour: 1, limit_by: 'ip', hide_client_headers: true, error_code: 503, error_message: 'Slow down, please' } },
      ]),
      // Both exhausted by the same three requests; the instance that refuses first frees first.
      svc('both', '/both', [
        { name: 'rate-limiting', instance_name: 'a-per-second', config: { second: 3, limit_by: 'header', header_name: 'X-Caller' } },
        { name: 'rate-limiting', instance_name: 'z-per-hour', config: { hour: 3, limit_by: 'header', header_name: 'X-Caller' } },
      ]),
      svc('fixed', '/fixed', [{ name: 'rate-limiting', config: { hour: 2, day: 5, limit_by: 'path', path: '/fixed/a', window_type: 'fixed' } }]),
    ];
    [gw, trusting] = await Promise.all([
      startGateway({ services }),
      startGateway({ gateway: { trusted_proxies: ['127.0.0.1'] }, services }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([gw?.stop(), trusting?.stop()]);
    await up?.close();
  });

  it('an X-Forwarded-For from an untrusted peer does not change the IP key', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await send(`${gw.url}/xff`, { headers: { 'X-Forwarded-For': `203.0.113.${i}` } })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
  });

  it('behind a trusted proxy, each X-Forwarded-For client has its own counter', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await send(`${trusting.url}/xff`, { headers: { 'X-Forwarded-For': `203.0.113.${i}` } })).status);
    expect(statuses).toEqual([200, 200, 200, 200]);
    const again = await send(`${trusting.url}/xff`, { headers: { 'X-Forwarded-For': '203.0.113.0' } });
    expect(header(again, 'X-RateLimit-Remaining-Hour')).toBe('1');
  });

  it('IPv6 clients are counted by their /64: rotating addresses within one prefix does not escape the limit', async () => {
    const statuses: number[] = [];
    for (const host of ['a', 'b', 'c', 'dead:beef']) statuses.push((await send(`${trusting.url}/xff`, { headers: { 'X-Forwarded-For': `2001:db8:1:2::${host}` } })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    // another /64 is another client
    expect((await send(`${trusting.url}/xff`, { headers: { 'X-Forwarded-For': '2001:db8:1:3::a' } })).status).toBe(200);
  });

  it('two callers are limited independently', async () => {
    const a: number[] = [];
    for (let i = 0; i < 3; i++) a.push((await send(`${gw.url}/users`, { headers: { 'X-Caller': 'alice' } })).status);
    const b = await send(`${gw.url}/users`, { headers: { 'X-Caller': 'bob' } });
    expect(a).toEqual([200, 200, 429]);
    expect(b.status).toBe(200);
    expect(header(b, 'X-RateLimit-Remaining-Hour')).toBe('1');
  });

  it('a request refused by one layer consumes nothing from the others', async () => {
    await awayFromWindowEdge(60_000, 10_000);
    const statuses: number[] = [];
    const perIpLeft: (string | undefined)[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await send(`${gw.url}/layers`, { headers: { 'X-Caller': 'carol' } });
      statuses.push(r.status);
      perIpLeft.push(header(r, 'X-RateLimit-Remaining-Minute'));
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429, 429]);
    // per-ip counted the three admitted requests only
    expect(perIpLeft).toEqual(['9', '8', '7', '7', '7', '7']);
    const dave = await send(`${gw.url}/layers`, { headers: { 'X-Caller': 'dave' } });
    expect(dave.status).toBe(200);
    expect(header(dave, 'X-RateLimit-Remaining-Minute')).toBe('6');
    expect(header(dave, 'X-RateLimit-Remaining-Hour')).toBe('2');
  });

  it('shows the tighter of two instances for a shared period, and RateLimit-* for the tightest window', async () => {
    await awayFromWindowEdge(60_000, 10_000);
    const r = await send(`${gw.url}/same`, { headers: { 'X-Caller': 'erin' } });
    expect(r.status).toBe(200);
    expect(header(r, 'X-RateLimit-Limit-Minute')).toBe('5');
    expect(header(r, 'X-RateLimit-Remaining-Minute')).toBe('4');
    expect(header(r, 'X-RateLimit-Limit-Hour')).toBe('20');
    expect(header(r, 'X-RateLimit-Remaining-Hour')).toBe('19');
    expect(header(r, 'RateLimit-Limit')).toBe('5');
    expect(header(r, 'RateLimit-Remaining')).toBe('4');
  });

  it("a 429's Retry-After covers every exhausted limit, not only the first to refuse", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await send(`${gw.url}/both`, { headers: { 'X-Caller': 'frank' } })).status);
    const refused = await send(`${gw.url}/both`, { headers: { 'X-Caller': 'frank' } });
    expect([...statuses, refused.status]).toEqual([200, 200, 200, 429]);
    expect(header(refused, 'X-RateLimit-Remaining-Hour')).toBe('0');
    expect(Number(header(refused, 'Retry-After'))).toBeGreaterThan(60); // the hour window, not the second's
    expect(header(refused, 'Retry-After')).toBe(header(refused, 'RateLimit-Reset')); // a sliding hour can free later than an hour from now
  });

  it('hide_client_headers, error_code and error_message', async () => {
    const ok = await send(`${gw.url}/hidden`);
    expect(ok.status).toBe(200);
    expect(Object.keys(ok.headers).filter((h) => h.includes('ratelimit'))).toEqual([]);
    const refused = await send(`${gw.url}/hidden`);
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.body)).toMatchObject({ message: 'Slow down, please' });
    expect(Number(header(refused, 'Retry-After'))).toBeGreaterThanOrEqual(1);
    expect(Object.keys(refused.headers).filter((h) => h.includes('ratelimit'))).toEqual([]);
  });

  it('limit_by path counts the configured path; fixed windows report the window end', async () => {
    await awayFromWindowEdge(3_600_000, 10_000);
    const a1 = await send(`${gw.url}/fixed/a`, { headers: { 'X-Forwarded-For': '198.51.100.1' } });
    const a2 = await send(`${gw.url}/fixed/a`);
    const a3 = await send(`${gw.url}/fixed/a`);
    expect([a1.status, a2.status, a3.status]).toEqual([200, 200, 429]);
    // The path as routed: another spelling of /fixed/a is /fixed/a, not a fresh per-IP counter.
    for (const spelling of ['/fixed//a', '/fixed/%61']) expect((await send(`${gw.url}${spelling}`)).status, spelling).toBe(429);
    expect(header(a1, 'X-RateLimit-Remaining-Day')).toBe('4');
    const endOfHour = Math.ceil((Math.floor(Date.now() / 3_600_000) + 1) * 3600);
    expect(Number(header(a3, 'Retry-After'))).toBeLessThanOrEqual(3600);
    expect(Math.abs(Number(header(a1, 'X-RateLimit-Reset')) - endOfHour)).toBeLessThanOrEqual(2);
    // another path falls back to the IP (Kong's rule): its own counter
    const b = await send(`${gw.url}/fixed/b`);
    expect(b.status).toBe(200);
    expect(header(b, 'X-RateLimit-Remaining-Hour')).toBe('1');
  });
});

describe('rate-limiting: the seed three layers with jwt callers', () => {
  let up: TestUpstream;
  let gw: GatewayProcess;
  let key: RsaPair;

  beforeAll(async () => {
    key = rsaPair(2048);
    up = await startUpstream();
    gw = await startGateway({
      services: [
        chatService(up.url),
        { name: 'tight', url: up.url, routes: [{ name: 'tight', paths: ['/tight'] }], plugins: [{ name: 'rate-limiting', instance_name: 'tight-user', config: { hour: 3, limit_by: 'user' } }] },
      ],
      plugins: [
        { name: 'jwt' },
        { name: 'rate-limiting', instance_name: 'per-ip', config: { minute: 100, limit_by: 'ip', policy: 'local' } },
        { name: 'rate-limiting', instance_name: 'per-user', config: { hour: 1000, limit_by: 'user', policy: 'local' } },
        { name: 'token-budget', config: { day: 1_000_000 } },
      ],
      consumers: [{ username: 'admin', jwt_secrets: [{ key: 'admin-key', algorithm: 'RS256', rsa_public_key: key.publicPem }] }],
      workspaces: [{ id: 'workspace-123', members: ['user-id', 'user-b'] }],
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  it("shows the seed's headers for every layer: per IP, per user, and the workspace budget", async () => {
    await awayFromWindowEdge(60_000, 10_000);
    const token = bearer(await seedToken(key, 'admin-key', 'user-id'));
    const r = await send(`${gw.url}/v1/chat/completions`, { headers: { ...token, 'X-Workspace-Id': 'workspace-123' }, body: CHAT });
    expect(r.status).toBe(200);
    expect(header(r, 'X-RateLimit-Limit-Hour')).toBe('1000');
    expect(header(r, 'X-RateLimit-Remaining-Hour')).toBe('999');
    expect(header(r, 'X-RateLimit-Limit-Minute')).toBe('100');
    expect(header(r, 'X-RateLimit-Remaining-Minute')).toBe('99');
    expect(Number(header(r, 'X-RateLimit-Reset'))).toBeGreaterThan(Date.now() / 1000 - 5);
    expect(header(r, 'X-Token-Budget-Limit')).toBe('1000000');
    expect(header(r, 'X-Token-Budget-Used')).toBe('0');
    expect(header(r, 'X-Token-Budget-Remaining')).toBe('1000000');
    // another user behind the same IP: own hourly count, shared per-IP minute
    const other = await send(`${gw.url}/v1/chat/completions`, { headers: { ...bearer(await seedToken(key, 'admin-key', 'user-b')), 'X-Workspace-Id': 'workspace-123' }, body: CHAT });
    expect(header(other, 'X-RateLimit-Remaining-Hour')).toBe('999');
    expect(header(other, 'X-RateLimit-Remaining-Minute')).toBe('98');
  });

  it('two users are limited independently', async () => {
    const alice = bearer(await seedToken(key, 'admin-key', 'alice', { workspaces: ['ws-a'] }));
    const bob = bearer(await seedToken(key, 'admin-key', 'bob', { workspaces: ['ws-b'] }));
    const a: number[] = [];
    for (let i = 0; i < 4; i++) a.push((await send(`${gw.url}/tight`, { headers: alice })).status);
    expect(a).toEqual([200, 200, 200, 429]);
    const b = await send(`${gw.url}/tight`, { headers: bob });
    expect(b.status).toBe(200);
    expect(header(b, 'X-RateLimit-Remaining-Hour')).toBe('2');
  });
});
