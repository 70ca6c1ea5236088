import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import { runCli, spawnListening, type GatewayProcess } from './helpers/gateway.js';

const exec = promisify(execFile);

async function startDemo(dir: string, ownsDir: boolean): Promise<GatewayProcess> {
  const gw = await spawnListening(['demo'], { dir, env: { TOLLGATE_DEMO_DIR: join(dir, 'demo') } }, '', ownsDir);
  // the banner follows the listening line
  for (let i = 0; i < 100 && !gw.stdout().includes('curl '); i++) await new Promise((r) => setTimeout(r, 50));
  return gw;
}

const curlLine = (gw: GatewayProcess) => gw.stdout().split('\n').find((l) => l.trim().startsWith('curl '));
const printedToken = (gw: GatewayProcess) => /Authorization: Bearer ([\w.-]+)/.exec(curlLine(gw) ?? '')?.[1];

describe('tollgate demo (npm start)', () => {
  let gw: GatewayProcess;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-demo-'));
    gw = await startDemo(dir, false);
  });
  afterAll(async () => {
    expect(await gw?.stop()).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a state directory it cannot create: exit 2, one line naming it and what to do', async () => {
    const blocker = join(dir, 'a-file');
    writeFileSync(blocker, '');
    const out = await runCli(['demo'], { env: { TOLLGATE_DEMO_DIR: join(blocker, 'demo') }, timeoutMs: 20_000 });
    expect(out.code).toBe(2);
    expect(out.stderr.trim().split('\n').at(-1)).toBe(`tollgate: the demo keeps its state in ${join(blocker, 'demo')}: cannot create it (ENOTDIR); run it from a directory you can write to, or set TOLLGATE_DEMO_DIR`);
  });

  it('prints a ready-to-paste curl that works as printed, on the real port', async () => {
    const line = curlLine(gw);
    expect(line).toBeDefined();
    expect(line).toContain(`localhost:${gw.ports.proxy}`);
    expect(line).not.toContain('$TOKEN');
    const { stdout } = await exec('bash', ['-c', line!.trim()]);
    const body = JSON.parse(stdout) as { object: string; usage: { total_tokens: number } };
    expect(body.object).toBe('chat.completion');
    expect(body.usage.total_tokens).toBeGreaterThan(0);
  });

  it('serves the demo chat through the gateway to the official openai client, streamed', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: printedToken(gw)! });
    const stream = await client.chat.completions.create({
      model: 'llama-3.3-8b-instruct',
      messages: [{ role: 'user', content: 'Hello' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let total = 0;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      total = chunk.usage?.total_tokens ?? total;
    }
    expect(text).toContain('Hello');
    expect(total).toBeGreaterThan(0);
  });

  it('has a demo consumer behind a global jwt plugin: no token, no entry', async () => {
    const res = await fetch(`${gw.url}/v1/models`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    const ok = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${printedToken(gw)}` } });
    expect(ok.status).toBe(200);
    const consumer = (await (await fetch(`${gw.adminUrl}/consumers/demo`)).json()) as { username: string };
    expect(consumer.username).toBe('demo');
  });

  it("enforces the seed's three limit layers and charges the demo workspace", async () => {
    const headers = { authorization: `Bearer ${printedToken(gw)}`, 'content-type': 'application/json' };
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers, body: JSON.stringify({ model: 'llama-3.3-8b-instruct', messages: [{ role: 'user', content: 'Hello' }] }) });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-ratelimit-limit-minute')).toBe('100');
    expect(res.headers.get('x-ratelimit-limit-hour')).toBe('1000');
    expect(res.headers.get('x-token-budget-limit')).toBe('1000000');
    const total = ((await res.json()) as { usage: { total_tokens: number } }).usage.total_tokens;
    let used = 0;
    for (let i = 0; i < 100 && used === 0; i++) {
      used = ((await (await fetch(`${gw.adminUrl}/workspaces/demo-workspace`)).json()) as { used: number }).used;
      if (used === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(used).toBeGreaterThanOrEqual(total);
    expect(gw.stdout()).toContain('1M tokens/day');
  });

  it('reuses its key pair on the next run, so earlier tokens keep working', async () => {
    const token = printedToken(gw)!;
    const key = readFileSync(join(dir, 'demo', 'jwt', 'private.pem'), 'utf8');
    expect(await gw.stop()).toBe(0);
    gw = await startDemo(dir, false);
    expect(readFileSync(join(dir, 'demo', 'jwt', 'private.pem'), 'utf8')).toBe(key);
    const res = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
  });
});
