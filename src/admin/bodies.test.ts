import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startGateway, type GatewayProcess } from '../../test/helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../../test/helpers/upstream.js';

interface Res {
  status: number;
  body: { message?: string; fields?: Record<string, string>; data?: Array<Record<string, unknown>> } & Record<string, unknown>;
}

async function admin(gw: GatewayProcess, method: string, path: string, body?: Buffer | string, type = 'application/json'): Promise<Res> {
  const res = await request(`${gw.adminUrl}${path}`, { method: method as 'GET', headers: body === undefined ? {} : { 'content-type': type }, body });
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? (JSON.parse(text) as Res['body']) : {} };
}

/** `prefix`, one byte that is never UTF-8 (0xFF), then `suffix`. */
function withBadByte(prefix: string, suffix: string): Buffer {
  return Buffer.concat([Buffer.from(prefix), Buffer.from([0xff]), Buffer.from(suffix)]);
}

describe('Admin API: bodies that are not UTF-8, and config-declared workspaces', () => {
  let up: TestUpstream;
  let gw: GatewayProcess;

  beforeAll(async () => {
    up = await startUpstream();
    gw = await startGateway({
      services: [{ name: 'echo', url: up.url, routes: [{ name: 'api', paths: ['/api'] }] }],
      workspaces: [{ id: 'ws-file', token_budget_day: 1000, members: ['user-file'] }],
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  it('a JSON body with a byte that is not UTF-8 gets 400 naming the byte, and nothing is stored', async () => {
    const res = await admin(gw, 'POST', '/consumers', withBadByte('{"username":"bad', '"}'));
    expect(res.status).toBe(400);
    expect(res.body.message).toBe('the body is not valid UTF-8 (at byte offset 16); send it encoded as UTF-8');
    const list = await admin(gw, 'GET', '/consumers');
    expect(list.body.data?.map((c) => c.username)).not.toContain('bad\ufffd');
    // UTF-8 text, a U+FFFD sent on purpose included, is stored as sent.
    const ok = await admin(gw, 'POST', '/consumers', JSON.stringify({ username: 'zoë-\ufffd' }));
    expect(ok.status).toBe(201);
    expect(ok.body.username).toBe('zoë-\ufffd');
  });

  it('a form body with raw non-UTF-8 bytes or a percent-escape that is not UTF-8 gets 400', async () => {
    const raw = await admin(gw, 'POST', '/consumers', withBadByte('username=raw', ''), 'application/x-www-form-urlencoded');
    expect(raw.status).toBe(400);
    expect(raw.body.message).toBe('the body is not valid UTF-8 (at byte offset 12); send it encoded as UTF-8');
    const escaped = await admin(gw, 'POST', '/consumers', 'username=esc%FF', 'application/x-www-form-urlencoded');
    expect(escaped.status).toBe(400);
    expect(escaped.body.message).toBe("the form body has an escape that is not UTF-8 in 'esc%FF'; percent-encode UTF-8 bytes");
    const list = await admin(gw, 'GET', '/consumers');
    expect(list.body.data?.map((c) => String(c.username))).toEqual(expect.not.arrayContaining([expect.stringMatching(/^(raw|esc)/)]));
    const ok = await admin(gw, 'POST', '/consumers', 'username=caf%C3%A9+bar', 'application/x-www-form-urlencoded');
    expect(ok.status).toBe(201);
    expect(ok.body.username).toBe('café bar');
  });

  it('POST /config with a YAML or text/plain body that is not UTF-8 gets 400 and imports nothing', async () => {
    for (const type of ['application/yaml', 'text/plain']) {
      const res = await admin(gw, 'POST', '/config', withBadByte('consumers:\n  - username: yaml', '\n'), type);
      expect(res.status, type).toBe(400);
      expect(res.body.message, type).toBe('the body is not valid UTF-8 (at byte offset 29); send it encoded as UTF-8');
    }
    const list = await admin(gw, 'GET', '/consumers');
    expect(list.body.data?.map((c) => String(c.username))).toEqual(expect.not.arrayContaining([expect.stringMatching(/^yaml/)]));
    const ok = await admin(gw, 'POST', '/config', 'consumers:\n  - username: yaml-ok\n', 'application/yaml');
    expect(ok.status).toBe(201);
  });

  it('a workspace or membership declared in the config file cannot be deleted (409); admin ones can', async () => {
    const del = await admin(gw, 'DELETE', '/workspaces/ws-file');
    expect(del.status).toBe(409);
    expect(del.body.message).toBe("workspace 'ws-file' is declared in the config file; change it there (then reload)");
    const member = await admin(gw, 'DELETE', '/workspaces/ws-file/members/user-file');
    expect(member.status).toBe(409);
    expect(member.body.message).toBe("membership 'ws-file/user-file' is declared in the config file; change it there (then reload)");
    const kept = await admin(gw, 'GET', '/workspaces/ws-file');
    expect(kept.body).toMatchObject({ token_budget_day: 1000, source: 'config', members: ['user-file'] });

    // An admin-added member of the declared workspace, and an admin workspace, go as before.
    expect((await admin(gw, 'PUT', '/workspaces/ws-file/members/user-api')).status).toBe(200);
    expect((await admin(gw, 'DELETE', '/workspaces/ws-file/members/user-api')).status).toBe(204);
    expect((await admin(gw, 'PUT', '/workspaces/ws-api', JSON.stringify({ token_budget_day: 5 }))).status).toBe(200);
    expect((await admin(gw, 'DELETE', '/workspaces/ws-api')).status).toBe(204);
    expect((await admin(gw, 'DELETE', '/workspaces/ws-api')).status).toBe(404);
  });
});
