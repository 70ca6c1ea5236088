import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import { spawnListening, type GatewayProcess } from './helpers/gateway.js';

const exec = promisify(execFile);

describe('tollgate demo (npm start)', () => {
  let gw: GatewayProcess;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-demo-'));
    gw = await spawnListening(['demo'], { dir, env: { TOLLGATE_DEMO_DIR: join(dir, 'demo') } }, '', true);
    // the banner follows the listening line
    for (let i = 0; i < 100 && !gw.stdout().includes('curl '); i++) await new Promise((r) => setTimeout(r, 50));
  });
  afterAll(async () => {
    expect(await gw?.stop()).toBe(0);
  });

  it('prints a ready-to-paste curl that works as printed, on the real port', async () => {
    const line = gw.stdout().split('\n').find((l) => l.trim().startsWith('curl '));
    expect(line).toBeDefined();
    expect(line).toContain(`localhost:${gw.ports.proxy}`);
    expect(line).not.toContain('$TOKEN');
    const { stdout } = await exec('bash', ['-c', line!.trim()]);
    const body = JSON.parse(stdout) as { object: string; usage: { total_tokens: number } };
    expect(body.object).toBe('chat.completion');
    expect(body.usage.total_tokens).toBeGreaterThan(0);
  });

  it('serves the demo chat through the gateway to the official openai client, streamed', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused' });
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
});
