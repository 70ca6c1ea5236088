import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { parse, stringify } from 'yaml';
import { runCli, startGateway, type GatewayProcess } from '../../test/helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../../test/helpers/upstream.js';
import { bearer, rsaPair, seedToken, type RsaPair } from '../../test/helpers/jwt.js';

const TOKEN = 'admin-token-for-tests';

async function adminCall(gw: GatewayProcess, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  const res = await request(`${gw.adminUrl}${path}`, { method: (opts.method ?? 'GET') as 'GET', headers: opts.headers, body: opts.body });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

const auth = { authorization: `Bearer ${TOKEN}` };

// Spawns gateways and many CLI processes (tsx start-up each): generous timeouts for a loaded machine.
describe('Admin API token, GET/POST /config, tollgate config export/import', { timeout: 180_000 }, () => {
  let up: TestUpstream;
  let gw: GatewayProcess;
  let key: RsaPair;
  let work: string;

  beforeAll(async () => {
    up = await startUpstream();
    key = rsaPair(2048);
    work = mkdtempSync(join(tmpdir(), 'tollgate-config-io-'));
    gw = await startGateway({
      gateway: { admin_token: TOKEN },
      services: [{ name: 'echo', url: up.url, routes: [{ name: 'api', paths: ['/api'], plugins: [{ name: 'jwt' }] }] }],
      consumers: [{ username: 'admin', jwt_secrets: [{ key: 'admin-key', algorithm: 'RS256', rsa_public_key: key.publicPem }] }],
      workspaces: [{ id: 'ws-1', token_budget_day: 5000, members: ['u1'] }],
    });
  }, 120_000);
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('requires the admin token as Bearer or Kong-Admin-Token on every call', async () => {
    for (const path of ['/', '/consumers', '/config']) {
      const none = await adminCall(gw, path);
      expect(none.status, path).toBe(401);
      expect(JSON.parse(none.text).message).toContain('admin token');
      expect((await adminCall(gw, path, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      expect((await adminCall(gw, path, { headers: auth })).status).toBe(200);
      expect((await adminCall(gw, path, { headers: { 'kong-admin-token': TOKEN } })).status).toBe(200);
    }
    expect((await adminCall(gw, '/consumers', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"username":"x"}' })).status).toBe(401);
  });

  it('refuses to start with admin beyond loopback and no token; starts with one', async () => {
    const refused = startGateway({}, { env: { TOLLGATE_ADMIN_LISTEN: '0.0.0.0:0' } });
    await expect(refused).rejects.toThrow(/exited \(2\)[\s\S]*gateway\.admin_token: required because the Admin API listens on 0\.0\.0\.0:0/);
    const open = await startGateway({ gateway: { admin_token: TOKEN } }, { env: { TOLLGATE_ADMIN_LISTEN: '0.0.0.0:0' } });
    expect((await adminCall(open, '/', { headers: auth })).status).toBe(200);
    expect(await open.stop()).toBe(0);
  });

  it('GET /config exports YAML (or JSON on request), secrets of OAuth clients as hashes', async () => {
    const yaml = await adminCall(gw, '/config', { headers: auth });
    expect(yaml.headers['content-type']).toContain('application/yaml');
    const doc = parse(yaml.text) as { _format_version: string; consumers: Array<Record<string, unknown>>; workspaces: Array<Record<string, unknown>> };
    expect(doc._format_version).toBe('3.0');
    expect(doc.consumers).toMatchObject([{ username: 'admin', jwt_secrets: [{ key: 'admin-key', algorithm: 'RS256' }] }]);
    expect(doc.workspaces).toEqual([{ id: 'ws-1', token_budget_day: 5000, members: ['u1'] }]);
    const json = await adminCall(gw, '/config', { headers: { ...auth, accept: 'application/json' } });
    expect(JSON.parse(json.text)).toEqual(doc);
  });

  it('POST /config imports YAML, JSON or {"config": yaml}; imported credentials work at once', async () => {
    const k2 = rsaPair(2048);
    const yamlDoc = stringify({ consumers: [{ username: 'imported', jwt_secrets: [{ key: 'imported-key', algorithm: 'RS256', rsa_public_key: k2.publicPem }] }] });
    const res = await adminCall(gw, '/config', { method: 'POST', headers: { ...auth, 'content-type': 'application/yaml' }, body: yamlDoc });
    expect(res.status).toBe(201);
    expect(JSON.parse(res.text)).toEqual({ message: 'imported', consumers: 1, workspaces: 0 });
    const token = await seedToken(k2, 'imported-key', 'imported-user');
    const proxied = await request(`${gw.url}/api`, { headers: bearer(token) });
    expect(proxied.statusCode).toBe(200);
    await proxied.body.dump();

    const json = await adminCall(gw, '/config', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ workspaces: [{ id: 'ws-2' }] }) });
    expect(JSON.parse(json.text)).toMatchObject({ workspaces: 1 });
    const kong = await adminCall(gw, '/config', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ config: 'consumers:\n  - username: from-kong\n' }) });
    expect(kong.status).toBe(201);
    const consumer = await adminCall(gw, '/consumers/from-kong', { headers: auth });
    expect(JSON.parse(consumer.text).source).toBe('admin');
  });

  it('POST /config refuses unknown fields, non-entities and clashes with 400 and fields', async () => {
    const post = (body: unknown) => adminCall(gw, '/config', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const unknown = await post({ consumers: [{ username: 'x', nickname: 'y' }] });
    expect(unknown.status).toBe(400);
    expect(JSON.parse(unknown.text).fields).toEqual({ 'consumers[0]': "unknown key 'nickname'" });
    const services = await post({ services: [] });
    expect(JSON.parse(services.text).fields.services).toContain('not a stored entity');
    // Every problem in one answer: a non-entity, a schema problem, an unusable key of a consumer that passes.
    const all = await post({ services: [], consumers: [{ username: 'x', nickname: 'y' }, { username: 'k', jwt_secrets: [{ key: 'k1', algorithm: 'RS256', rsa_public_key: 'garbage' }] }] });
    expect([all.status, JSON.parse(all.text).fields]).toEqual([
      400,
      {
        services: 'not a stored entity: declare it in the config file (import takes consumers and workspaces)',
        'consumers[0]': "unknown key 'nickname'",
        'consumers[1].jwt_secrets[0].rsa_public_key': 'not a PEM public key or certificate',
      },
    ]);
    const twice = await post({ consumers: [{ username: 'same' }, { username: 'same' }] });
    expect(twice.status).toBe(400);
    expect(JSON.parse(twice.text).message).toBe("consumers[1].username: 'same' is already used by consumers[0]");
    const badYaml = await adminCall(gw, '/config', { method: 'POST', headers: { ...auth, 'content-type': 'application/yaml' }, body: 'consumers: [' });
    expect(badYaml.status).toBe(400);
    const bomb = 'a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n';
    const bombed = await adminCall(gw, '/config', { method: 'POST', headers: { ...auth, 'content-type': 'application/yaml' }, body: bomb });
    expect(bombed.status).toBe(400);
    expect(JSON.parse(bombed.text).fields['@entity']).toMatch(/more than 100 alias expansions/);
  });

  it('POST /config leaves what the config file declares as the file says (a consumer and its fields, its JWT key); other credentials of it are imported', async () => {
    const post = (body: unknown) => adminCall(gw, '/config', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const extra = rsaPair(2048);
    const hijack = await post({
      consumers: [
        {
          username: 'admin',
          custom_id: 'hijacked',
          jwt_secrets: [
            { key: 'admin-key', algorithm: 'HS256', secret: 'attacker-chosen-secret-attacker-chosen' },
            { key: 'added-key', algorithm: 'RS256', rsa_public_key: extra.publicPem },
          ],
        },
      ],
    });
    expect(hijack.status).toBe(201);
    expect(JSON.parse(hijack.text)).toEqual({ message: 'imported', consumers: 1, workspaces: 0, kept_as_declared: ["consumer 'admin'", "jwt credential 'admin-key'"] });
    // The file's key under another consumer: left out too.
    const moved = await post({ consumers: [{ username: 'newcomer', jwt_secrets: [{ key: 'admin-key', algorithm: 'HS256', secret: 'attacker-chosen-secret-attacker-chosen' }] }] });
    expect(JSON.parse(moved.text)).toEqual({ message: 'imported', consumers: 1, workspaces: 0, kept_as_declared: ["jwt credential 'admin-key'"] });
    const stored = JSON.parse((await adminCall(gw, '/consumers/admin', { headers: auth })).text) as { custom_id: string | null; source: string };
    expect(stored).toMatchObject({ custom_id: null, source: 'config' });
    const keys = JSON.parse((await adminCall(gw, '/consumers/admin/jwt', { headers: auth })).text) as { data: Array<{ key: string; algorithm: string; source: string }> };
    expect(keys.data.map((k) => [k.key, k.algorithm, k.source]).sort()).toEqual([['added-key', 'RS256', 'admin'], ['admin-key', 'RS256', 'config']]);
    for (const [pair, kid] of [[key, 'admin-key'], [extra, 'added-key']] as const) {
      const proxied = await request(`${gw.url}/api`, { headers: bearer(await seedToken(pair, kid, 'u')) });
      expect(proxied.statusCode, kid).toBe(200); // the file's key still verifies, the added one too
      await proxied.body.dump();
    }
    expect(JSON.parse((await adminCall(gw, '/consumers/newcomer/jwt', { headers: auth })).text).data).toEqual([]);
  });

  it('tollgate config export / import move entities between stores; bad files exit 2 with one line each', async () => {
    const out = join(work, 'export.yaml');
    const exported = await runCli(['config', 'export', '--config', gw.configFile, '--out', out]);
    expect(exported.code).toBe(0);
    const doc = parse(readFileSync(out, 'utf8')) as { consumers: Array<{ username: string }> };
    expect(doc.consumers.map((c) => c.username)).toEqual(expect.arrayContaining(['admin', 'imported', 'from-kong']));
    const toStdout = await runCli(['config', 'export', '--config', gw.configFile]);
    expect(toStdout.stdout).toContain('username: imported');

    // a second installation with its own store
    const other = join(work, 'other.yaml');
    writeFileSync(other, stringify({ gateway: { store: `sqlite://${join(work, 'other.db')}`, data_dir: join(work, 'data') } }));
    const imported = await runCli(['config', 'import', '--config', other, out]);
    expect(imported.stderr).toBe('');
    expect(imported.code).toBe(0);
    expect(imported.stdout).toMatch(/^imported \d+ consumers and 2 workspaces into sqlite /);
    const again = await runCli(['config', 'export', '--config', other]);
    // the same entities (import stamps its own created_at, so the order may differ)
    const byName = (d: { consumers: Array<{ username: string; jwt_secrets?: Array<{ key: string }> }> }) =>
      [...d.consumers]
        .sort((a, b) => a.username.localeCompare(b.username))
        .map((c) => ({ ...c, jwt_secrets: [...(c.jwt_secrets ?? [])].sort((x, y) => x.key.localeCompare(y.key)) }));
    expect(byName(parse(again.stdout) as typeof doc)).toEqual(byName(doc));

    const bad = join(work, 'bad.yaml');
    writeFileSync(bad, stringify({ consumers: [{ username: 'x', nickname: 'y' }], plugins: [] }));
    const refused = await runCli(['config', 'import', '--config', other, bad]);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim().split('\n')).toEqual([`${bad}: plugins: not a stored entity: declare it in the config file (import takes consumers and workspaces)`, `${bad}: consumers[0]: unknown key 'nickname'`]);
    writeFileSync(bad, stringify({ consumers: [{ username: 'x', nickname: 'y' }] }));
    expect((await runCli(['config', 'import', '--config', other, bad])).stderr.trim()).toBe(`${bad}: consumers[0]: unknown key 'nickname'`);
    expect((await runCli(['config', 'import', '--config', other, join(work, 'missing.yaml')])).code).toBe(2);

    // No config at all, or a relative SQLite path from another directory: not an empty backup.
    const nowhere = mkdtempSync(join(tmpdir(), 'tollgate-noconfig-'));
    for (const args of [['config', 'export'], ['config', 'import', out]]) {
      const r = await runCli(args, { cwd: nowhere, env: { TOLLGATE_CONFIG: '' } });
      expect([r.code, r.stderr.trim()], args.join(' ')).toEqual([2, 'tollgate: no config file: pass --config FILE, set TOLLGATE_CONFIG, or create ./tollgate.yaml (the store it names is the one exported or imported into)']);
    }
    const relative = join(work, 'relative.yaml');
    writeFileSync(relative, stringify({ gateway: { store: 'sqlite://./data/tollgate.db' } }));
    const wrongDir = await runCli(['config', 'export', '--config', relative], { cwd: nowhere });
    expect(wrongDir.code).toBe(2);
    expect(wrongDir.stderr).toContain(`gateway.store: ${join(nowhere, 'data', 'tollgate.db')} does not exist`);
    expect(readdirSync(nowhere)).toEqual([]); // nothing created

    // JWT credentials that could never verify a token are refused, as the Admin API refuses them.
    const unusable: Array<[Record<string, string>, string]> = [
      [{ key: 'k-rs', algorithm: 'RS256' }, 'consumers[0].jwt_secrets[0].rsa_public_key: required with RS256 (a PEM public key)'],
      [{ key: 'k-hs', algorithm: 'HS256' }, 'consumers[0].jwt_secrets[0].secret: required for algorithm HS256'],
      [{ key: 'k-bad', algorithm: 'RS256', rsa_public_key: 'garbage' }, 'consumers[0].jwt_secrets[0].rsa_public_key: not a PEM public key or certificate'],
    ];
    for (const [secret, line] of unusable) {
      writeFileSync(bad, stringify({ consumers: [{ username: 'unusable', jwt_secrets: [secret] }] }));
      const r = await runCli(['config', 'import', '--config', other, bad]);
      expect([r.code, r.stderr.trim()]).toEqual([2, `${bad}: ${line}`]);
      const asConfig = join(work, 'unusable-config.yaml');
      writeFileSync(asConfig, stringify({ gateway: { store: `sqlite://${join(work, 'other.db')}` }, consumers: [{ username: 'unusable', jwt_secrets: [secret] }] }));
      const v = await runCli(['config', 'validate', asConfig]);
      expect([v.code, v.stderr.trim()]).toEqual([2, `${asConfig}: ${line}`]);
    }
    expect((await runCli(['config', 'export', '--config', other])).stdout).not.toContain('unusable');
  });
});
