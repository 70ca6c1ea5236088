import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startGateway, type GatewayProcess } from '../../../test/helpers/gateway.js';
import { bearer, rsaPair, seedToken, type RsaPair } from '../../../test/helpers/jwt.js';
import { header, send } from '../../../test/helpers/limits.js';
import { startDemoUpstreams, type DemoUpstreams } from '../../demo/index.js';

const CHAT = { model: 'llama-3.3-8b-instruct', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 5 };

describe('token-budget: which workspace is charged (jwt callers, membership strict)', () => {
  let demo: DemoUpstreams;
  let gw: GatewayProcess;
  let key: RsaPair;
  const token = (sub: string, extra: Record<string, unknown> = {}) => seedToken(key, 'admin-key', sub, extra);
  const upstreamWorkspace = async () => {
    const res = await request(`${demo.openai}/debug/last-request`);
    return ((await res.body.json()) as { headers: Record<string, string> }).headers['x-workspace-id'];
  };
  const admin = async (method: string, path: string) => (await request(`${gw.adminUrl}${path}`, { method: method as 'GET' })).statusCode;

  beforeAll(async () => {
    key = rsaPair(2048);
    demo = await startDemoUpstreams();
    const route = (name: string, plugins: unknown[]) => ({ name, paths: [`/${name}`], plugins });
    gw = await startGateway({
      services: [
        {
          name: 'llm',
          url: demo.openai,
          plugins: [{ name: 'jwt' }],
          routes: [
            route('strict', [{ name: 'token-budget', config: { day: 100_000 } }]),
            route('tenant', [{ name: 'token-budget', config: { day: 100_000, workspace_claims: ['tenant'] } }]),
            route('perws', [
              { name: 'token-budget', config: { day: 100_000, membership: 'open' } },
              { name: 'rate-limiting', instance_name: 'per-workspace', config: { hour: 2, limit_by: 'workspace' } },
            ]),
          ],
        },
      ],
      consumers: [{ username: 'platform', jwt_secrets: [{ key: 'admin-key', algorithm: 'RS256', rsa_public_key: key.publicPem }] }],
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await demo?.close();
  });

  it("no header: the token's first workspace is charged and sent upstream", async () => {
    const t = await token('user-1', { workspaces: ['ws-claim', 'ws-second'] });
    const r = await send(`${gw.url}/strict/v1/chat/completions`, { headers: bearer(t), body: CHAT });
    expect(r.status).toBe(200);
    expect(header(r, 'X-Token-Budget-Limit')).toBe('100000');
    expect(await upstreamWorkspace()).toBe('ws-claim');
  });

  it('a header naming one of the caller\'s workspaces is honoured; another one is 403', async () => {
    const t = await token('user-1', { workspaces: ['ws-claim', 'ws-second'] });
    const ok = await send(`${gw.url}/strict/v1/chat/completions`, { headers: { ...bearer(t), 'X-Workspace-Id': 'ws-second' }, body: CHAT });
    expect(ok.status).toBe(200);
    expect(await upstreamWorkspace()).toBe('ws-second');
    const denied = await send(`${gw.url}/strict/v1/chat/completions`, { headers: { ...bearer(t), 'X-Workspace-Id': 'ws-other' }, body: CHAT });
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.body)).toMatchObject({ message: "You are not a member of workspace 'ws-other'" });
    expect(header(denied, 'X-Token-Budget-Limit')).toBeUndefined();
  });

  it('a caller with no workspace at all gets 400; without a token, 401 comes first', async () => {
    const none = await send(`${gw.url}/strict/v1/chat/completions`, { headers: bearer(await token('user-2')), body: CHAT });
    expect(none.status).toBe(400);
    expect(JSON.parse(none.body)).toMatchObject({ message: 'X-Workspace-Id required' });
    expect((await send(`${gw.url}/strict/v1/chat/completions`, { headers: { 'X-Workspace-Id': 'ws-claim' }, body: CHAT })).status).toBe(401);
  });

  it('stored memberships (Admin API) grant a workspace, and removing one takes effect at once', async () => {
    const t = await token('user-9');
    expect(await admin('PUT', '/workspaces/ws-team/members/user-9')).toBe(200);
    const implicit = await send(`${gw.url}/strict/v1/chat/completions`, { headers: bearer(t), body: CHAT });
    expect(implicit.status).toBe(200);
    expect(await upstreamWorkspace()).toBe('ws-team');
    const named = await send(`${gw.url}/strict/v1/chat/completions`, { headers: { ...bearer(t), 'X-Workspace-Id': 'ws-team' }, body: CHAT });
    expect(named.status).toBe(200);
    expect(await admin('DELETE', '/workspaces/ws-team/members/user-9')).toBe(204);
    const after = await send(`${gw.url}/strict/v1/chat/completions`, { headers: { ...bearer(t), 'X-Workspace-Id': 'ws-team' }, body: CHAT });
    expect(after.status).toBe(403);
  });

  it('workspace_claims names the claims that grant workspaces', async () => {
    const t = bearer(await token('user-4', { tenant: 'acme', workspaces: ['ws-x'] }));
    expect((await send(`${gw.url}/tenant/v1/chat/completions`, { headers: t, body: CHAT })).status).toBe(200);
    expect(await upstreamWorkspace()).toBe('acme');
    expect((await send(`${gw.url}/tenant/v1/chat/completions`, { headers: { ...t, 'X-Workspace-Id': 'ws-x' }, body: CHAT })).status).toBe(403);
  });

  it('rate-limiting by workspace counts each workspace on its own', async () => {
    const t = await token('user-3');
    const call = (ws: string) => send(`${gw.url}/perws/v1/chat/completions`, { headers: { ...bearer(t), 'X-Workspace-Id': ws }, body: CHAT });
    const a = [await call('ws-a'), await call('ws-a'), await call('ws-a')];
    expect(a.map((r) => r.status)).toEqual([200, 200, 429]);
    expect(header(a[2]!, 'X-RateLimit-Remaining-Hour')).toBe('0');
    // the budget's headers are on the rate-limit 429 too
    expect(header(a[2]!, 'X-Token-Budget-Limit')).toBe('100000');
    const b = await call('ws-b');
    expect(b.status).toBe(200);
    expect(header(b, 'X-RateLimit-Remaining-Hour')).toBe('1');
  });
});
