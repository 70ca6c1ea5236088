import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { Agent } from 'undici';
import { runCli, spawnListening, type GatewayProcess } from '../../../test/helpers/gateway.js';
import { freePort, waitFor } from '../../../test/helpers/ports.js';
import { sharedPostgresUrl } from '../../../test/helpers/postgres.js';
import { copyTree, find, generateSecrets, removeTree, render, type K8sObject } from './workspace.js';
import { simulatePod, type SimulatedPod } from './simulatedPod.js';
import type { Probe, Workload } from './podSpec.js';
import { GUIDE, guideCommands } from './guide.js';

/**
 * The production overlay, end to end on this machine: secrets made by
 * scripts/generate-secrets.sh, `kubectl kustomize`, then the tollgate container laid out as
 * kubelet would (volumes, environment; see simulatedPod.ts) and run for real against a
 * PostgreSQL and a password-protected Redis standing in for the StatefulSets (their Service
 * names pointed at loopback, as cluster DNS would point them at the pods).
 */

const exec = promisify(execFile);

let tree: string;
let objects: K8sObject[];
let pod: SimulatedPod;
let gw: GatewayProcess;
let redis: ChildProcess;
let host: string;
const secrets = () => join(tree, 'overlays/production/secrets');

beforeAll(async () => {
  tree = copyTree();
  await generateSecrets(tree, 'production');
  objects = await render(join(tree, 'overlays/production'));
  pod = await simulatePod(objects, 'tollgate', 'tollgate');
  host = pod.env.TOLLGATE_PUBLIC_HOST!;
}, 180_000);

afterAll(async () => {
  await gw?.stop();
  redis?.kill('SIGTERM');
  if (tree) removeTree(tree);
  if (pod) removeTree(pod.root);
});

describe('tollgate config validate', () => {
  test("accepts the ConfigMap's config with the pod's environment and files", async () => {
    const r = await runCli(['config', 'validate', pod.configFile], { env: pod.env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(': ok');
  });

  test('refuses it, naming the variable, when a Secret-provided variable is missing', async () => {
    const env = Object.fromEntries(Object.entries(pod.env).filter(([k]) => k !== 'TOLLGATE_OAUTH2_PROVISION_KEY'));
    const r = await runCli(['config', 'validate', pod.configFile], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/: plugins\[1\]\.config\.provision_key: environment variable TOLLGATE_OAUTH2_PROVISION_KEY is not set/);
  });

  test('refuses it when a mounted signing key is missing', async () => {
    const copy = join(pod.root, 'broken.yaml');
    writeFileSync(copy, readFileSync(pod.configFile, 'utf8').replace(/previous-signing-key\.pem/, 'absent.pem'));
    const r = await runCli(['config', 'validate', copy], { env: pod.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/gateway\.signing_keys\[1\]\.private_key_file/);
  });
});

describe('the production pod, run here', () => {
  beforeAll(async () => {
    // PostgreSQL: the role and database the config names, on the run's server.
    const pgUrl = new URL(sharedPostgresUrl());
    const db = `tg_kube_${Date.now().toString(36)}`;
    const admin = new pg.Client({ connectionString: pgUrl.toString() });
    await admin.connect();
    try {
      await admin.query(`do $$ begin if not exists (select from pg_roles where rolname = 'tollgate') then create role tollgate login; end if; end $$`);
      await admin.query(`alter role tollgate password '${pod.env.POSTGRES_PASSWORD}'`);
      await admin.query(`create database ${db} owner tollgate`);
    } finally {
      await admin.end();
    }
    // Redis with the Secret's password, as the StatefulSet runs it (--requirepass).
    const redisPort = await freePort();
    redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--requirepass', pod.env.REDIS_PASSWORD!, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await waitFor(async () => (await exec('redis-cli', ['-p', String(redisPort), 'ping'], { env: { ...process.env, REDISCLI_AUTH: pod.env.REDIS_PASSWORD } })).stdout.includes('PONG'), 'redis');
    // Cluster DNS, simulated: the Services' names and ports → loopback.
    const text = readFileSync(pod.configFile, 'utf8');
    expect(text).toContain('@tollgate-postgres:5432/tollgate');
    expect(text).toContain('@tollgate-redis:6379/0');
    writeFileSync(
      pod.configFile,
      text.replace('@tollgate-postgres:5432/tollgate', `@127.0.0.1:${pgUrl.port}/${db}`).replace('@tollgate-redis:6379/0', `@127.0.0.1:${redisPort}/0`),
    );
    gw = await spawnListening(['start', '--config', pod.configFile], { dir: pod.root, env: pod.env });
  }, 120_000);

  test('every probe of the Deployment answers 200 on its port (readiness: PostgreSQL and Redis reached with the Secrets)', async () => {
    const c = (find(objects, 'Deployment', 'tollgate') as Workload).spec.template.spec.containers[0]!;
    const probes = [c.startupProbe, c.livenessProbe, c.readinessProbe].filter((p): p is Probe => p?.httpGet !== undefined);
    expect(probes).toHaveLength(3);
    for (const p of probes) {
      expect(p.httpGet!.port).toBe('status');
      await waitFor(async () => (await fetch(`${gw.statusUrl}${p.httpGet!.path}`)).status === 200, `${p.httpGet!.path} → 200`, 20_000, 200);
    }
    const status = (await (await fetch(`${gw.statusUrl}/status`)).json()) as Record<string, unknown>;
    expect(JSON.stringify(status)).not.toMatch(/unreachable/);
  });

  test('HTTPS is TLS 1.3 only, with the certificate from the mounted Secret (openssl s_client as in the guide)', async () => {
    const port = String(gw.ports.proxy_tls);
    const ok = await sClient(['-connect', `127.0.0.1:${port}`, '-servername', host, '-tls1_3']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/New, TLSv1\.3, Cipher is TLS_AES_256_GCM_SHA384/);
    expect(ok.stdout).toContain(`CN = ${host}`);
    const old = await sClient(['-connect', `127.0.0.1:${port}`, '-servername', host, '-tls1_2']);
    expect(old.code).not.toBe(0);
  });

  test('the Admin API wants the admin token from the Secret', async () => {
    const token = readFileSync(join(secrets(), 'admin-token'), 'utf8');
    expect(token).toBe(pod.env.TOLLGATE_ADMIN_TOKEN);
    expect((await fetch(`${gw.adminUrl}/`)).status).toBe(401);
    expect((await fetch(`${gw.adminUrl}/`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await fetch(`${gw.adminUrl}/`, { headers: { 'kong-admin-token': token } })).status).toBe(200);
  });

  test("a token minted with admin-key's private half passes; the seed's three limit layers answer with their headers", async () => {
    const minted = await runCli(['token', 'mint', '--key', join(secrets(), 'admin-key/private.pem'), '--iss', 'admin-key', '--sub', 'user-123', '--aud', 'ai-platform', '--scopes', 'api.read,api.write']);
    expect(minted.code).toBe(0);
    const token = minted.stdout.trim();
    // Plain HTTP (port 80 stays open for ACME) carries no token to the platform routes: 426.
    const clear = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } });
    expect(clear.status).toBe(426);
    const anonymous = await fetch(`${gw.tlsUrl}/v1/chat/completions`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' }, dispatcher: insecure() } as RequestInit);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
    // the workspace membership the guide registers through the Admin API
    const adminToken = pod.env.TOLLGATE_ADMIN_TOKEN!;
    const member = await fetch(`${gw.adminUrl}/workspaces/workspace-123/members/user-123`, { method: 'PUT', headers: { authorization: `Bearer ${adminToken}` } });
    expect(member.status).toBeLessThan(300);
    const res = await fetch(`${gw.tlsUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'x-workspace-id': 'workspace-123', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'llama-3.3-8b-instruct', messages: [{ role: 'user', content: 'Hello' }] }),
      dispatcher: insecure(),
    } as RequestInit);
    // authenticated and admitted; the LLM gateway itself does not exist here
    expect([502, 503]).toContain(res.status);
    expect(res.headers.get('x-ratelimit-limit-minute')).toBe('100');
    expect(res.headers.get('x-ratelimit-limit-hour')).toBe('1000');
    expect(res.headers.get('x-token-budget-limit')).toBe('1000000');
  });

  test("the guide's OAuth 2.1 walk-through works as written: register a client, PKCE, provision-key authorize, token exchange, call", async () => {
    const section = GUIDE.slice(GUIDE.indexOf('### OAuth 2.1 authorization code flow with PKCE'), GUIDE.indexOf('### JWT authentication'));
    const steps = guideCommands(section).filter((c) => /^(curl|ADMIN_TOKEN=|CODE_VERIFIER=|CODE_CHALLENGE=|PROVISION_KEY=)/.test(c));
    expect(steps).toHaveLength(8);
    const port = gw.ports.proxy_tls!;
    // The public host resolves to this gateway (curl --resolve), the admin port-forward to its admin port.
    const script = steps.map((c) => {
      let cmd = c
        .replaceAll('http://localhost:8001', gw.adminUrl)
        .replaceAll(`https://${host}/`, `https://${host}:${port}/`)
        .replace(/^curl /, `curl -sS -k --resolve ${host}:${port}:127.0.0.1 `)
        .replace('<authorization_code>', '$CODE')
        .replace('Bearer <access_token>', 'Bearer $ACCESS');
      if (cmd.includes('/oauth2/authorize')) cmd = `AUTHZ=$(${cmd})\necho "authorize: $AUTHZ"\nCODE=$(printf '%s' "$AUTHZ" | jq -r .redirect_uri | sed -E 's/.*[?&]code=([^&]*).*/\\1/')`;
      else if (cmd.includes('/oauth2/token')) cmd = `TOKENS=$(${cmd})\necho "token: $TOKENS"\nACCESS=$(printf '%s' "$TOKENS" | jq -r .access_token)`;
      else if (cmd.includes('/v1/chat/completions')) cmd = cmd.replace(/^curl /, `curl -o /dev/null -w 'call: %{http_code}\\n' `);
      else if (cmd.includes('/consumers/admin/oauth2')) cmd = `echo "register: $(${cmd})"`;
      return cmd;
    });
    const root = mkdtempSync(join(tmpdir(), 'tollgate-guide-'));
    mkdirSync(join(root, 'deploy'));
    symlinkSync(tree, join(root, 'deploy/kubernetes'));
    const { stdout } = await exec('bash', ['-euo', 'pipefail', '-c', script.join('\n')], { cwd: root });
    removeTree(root);
    const line = (name: string) => stdout.split('\n').find((l) => l.startsWith(`${name}: `))!.slice(name.length + 2);
    expect(JSON.parse(line('register'))).toMatchObject({ client_id: 'your-client-id', name: 'My Application' });
    expect(JSON.parse(line('authorize')).redirect_uri).toMatch(/^https:\/\/your-app\.com\/callback\?code=[^&]+&state=xyz&iss=/);
    const tokens = JSON.parse(line('token')) as Record<string, unknown>;
    expect(tokens).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'api.read api.write' });
    expect(typeof tokens.refresh_token).toBe('string');
    // authenticated (no 401) and admitted; the LLM gateway itself does not exist here
    expect(['502', '503']).toContain(line('call'));
  });

  test('ACME HTTP-01 challenges pass without a token over plain HTTP, and only there', async () => {
    const challenge = await fetch(`${gw.url}/.well-known/acme-challenge/some-token`, { headers: { host } });
    expect(challenge.status).not.toBe(401);
    expect([502, 503]).toContain(challenge.status); // no solver pod here
    const other = await fetch(`${gw.url}/.well-known/acme-challenge-not/x`);
    expect(other.status).toBe(404);
  });

  test('OAuth metadata names the public host; the JWKS publishes the signing key and the previous one', async () => {
    const meta = (await (await fetch(`${gw.tlsUrl}/.well-known/oauth-authorization-server`, { dispatcher: insecure() } as RequestInit)).json()) as { issuer: string };
    expect(meta.issuer).toBe(`https://${host}`);
    const jwks = (await (await fetch(`${gw.tlsUrl}/.well-known/jwks.json`, { dispatcher: insecure() } as RequestInit)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((k) => k.kid).sort()).toEqual([pod.env.TOLLGATE_SIGNING_KID, pod.env.TOLLGATE_PREVIOUS_SIGNING_KID].sort());
  });

  test('metrics under Kong names on the status port; audit records in the emptyDir file (hash chain intact) and on stdout', async () => {
    const metrics = await (await fetch(`${gw.statusUrl}/metrics`)).text();
    expect(metrics).toMatch(/^kong_http_requests_total\{/m);
    const auditFile = pod.path('/var/log/tollgate/audit.log');
    await waitFor(() => existsSync(auditFile) && readFileSync(auditFile, 'utf8').includes('/v1/chat/completions'), 'audit file', 10_000, 100);
    const lines = readFileSync(auditFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => l.path === '/v1/chat/completions' && l.user_id === 'user-123')).toMatchObject({ workspace_id: 'workspace-123', method: 'POST' });
    expect(lines.every((l) => typeof l.hash === 'string')).toBe(true);
    expect(gw.stdout()).toMatch(/"request_id":/);
    const verify = await runCli(['audit', 'verify', auditFile]);
    expect(verify.code).toBe(0);
  });

  test("the guide's audit queries (kubectl logs … | jq …) run on this pod's log output", async () => {
    // kubectl logs shows stdout and stderr together; add a line that is not JSON, as Node's own
    // warnings would be.
    const logs = join(pod.root, 'kubectl-logs.txt');
    writeFileSync(logs, `${gw.stdout()}${gw.stderr()}(node:1) Warning: not JSON\n`);
    const pipelines = guideCommands().filter((c) => c.startsWith('kubectl logs ') && c.includes('| jq '));
    expect(pipelines.length).toBeGreaterThanOrEqual(5);
    const outputs = new Map<string, string>();
    for (const p of pipelines) {
      const { stdout } = await exec('bash', ['-o', 'pipefail', '-c', `cat ${logs} ${p.slice(p.indexOf('|'))}`]);
      outputs.set(p, stdout);
    }
    const out = (needle: string) => [...outputs].find(([p]) => p.includes(needle))![1];
    expect(out('.status_code == 401) | {timestamp, ip_address, path, error}')).toContain('/v1/chat/completions');
    const perWorkspace = JSON.parse(out('group_by')) as { workspace: string | null; tokens: number }[];
    expect(Array.isArray(perWorkspace)).toBe(true);
  });

  test('the PromQL in the guide uses metric families /metrics exports', async () => {
    const metrics = await (await fetch(`${gw.statusUrl}/metrics`)).text();
    const families = new Set([...metrics.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    const promql = [...GUIDE.matchAll(/```promql\n([\s\S]*?)```/g)].map((m) => m[1]!).join('\n');
    const used = new Set([...promql.matchAll(/\b(kong_\w+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, '')));
    expect(used.size).toBeGreaterThanOrEqual(5);
    for (const name of used) expect(families, name).toContain(name);
  });

  test('tollgate config export / import inside the pod: a backup and its restore', async () => {
    const r = await runCli(['config', 'export', '--config', pod.configFile], { env: pod.env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/workspace-123/);
    const backup = pod.path('/tmp/tollgate-backup.yaml');
    writeFileSync(backup, r.stdout);
    const restored = await runCli(['config', 'import', '--config', pod.configFile, backup], { env: pod.env });
    expect(restored.stderr).toBe('');
    expect(restored.code).toBe(0);
    expect(restored.stdout).toMatch(/^imported \d+ consumers and \d+ workspaces/);
  });

  test("the guide's per-IP loop: 105 requests, the last ones refused with 429", async () => {
    const section = GUIDE.slice(GUIDE.indexOf('### Layer 1: IP-based'), GUIDE.indexOf('### Layer 2'));
    const loop = guideCommands(section);
    expect(loop[0]).toMatch(/^for i in \{1\.\.105\}; do$/);
    const port = gw.ports.proxy_tls!;
    const minted = await runCli(['token', 'mint', '--key', join(secrets(), 'admin-key/private.pem'), '--iss', 'admin-key', '--sub', 'user-123', '--aud', 'ai-platform']);
    const script = [`TOKEN=${minted.stdout.trim()}`, ...loop.map((c) => c.replaceAll(`https://${host}/`, `https://${host}:${port}/`).replace(/^curl /, `curl -k --resolve ${host}:${port}:127.0.0.1 `))];
    const { stdout } = await exec('bash', ['-c', script.join('\n')]);
    const codes = stdout.trim().split('\n');
    expect(codes).toHaveLength(105);
    const refused = codes.filter((c) => c === '429').length;
    // earlier tests' requests from this address count in the same window (so this test runs last)
    expect(refused).toBeGreaterThanOrEqual(5);
    expect(105 - refused).toBeLessThanOrEqual(100);
    expect(codes[0]).not.toBe('429');
    // Refusals begin once the window is full. (Not "the last one is a 429": the seed's limit
    // is a sliding window, and a loop slowed by a busy CI host may cross a minute boundary,
    // where the previous window's weight decays and frees a slot.)
    expect(codes.indexOf('429')).toBeGreaterThan(0);
  });

  test('SIGTERM drains and exits 0 well within terminationGracePeriodSeconds', async () => {
    const grace = (find(objects, 'Deployment', 'tollgate') as Workload).spec.template.spec.terminationGracePeriodSeconds!;
    const started = Date.now();
    expect(await gw.stop(grace * 1000)).toBe(0);
    expect(Date.now() - started).toBeLessThan(grace * 1000);
  });
});

/** `openssl s_client … </dev/null`: stdin closed, so it exits after the handshake. */
function sClient(args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn('openssl', ['s_client', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout });
    });
  });
}

/** An undici dispatcher that accepts the self-signed stand-in for the Let's Encrypt certificate. */
function insecure(): unknown {
  return new Agent({ connect: { rejectUnauthorized: false } });
}
