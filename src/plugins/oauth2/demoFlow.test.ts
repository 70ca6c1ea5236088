import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { spawnListening, type GatewayProcess } from '../../../test/helpers/gateway.js';

const exec = promisify(execFile);

/**
 * The demo's OAuth walk-through as documented: the curl script of docs/oauth.md ("The demo,
 * step by step") runs unchanged (but for the port) against a real `tollgate demo`, and the
 * client_credentials curl the banner prints works as printed.
 */

function documentedScript(port: number): string {
  const doc = readFileSync('docs/oauth.md', 'utf8');
  const block = /<!-- demo-oauth-flow[^>]*-->\s*```bash\n([\s\S]*?)```/.exec(doc)?.[1];
  if (block === undefined) throw new Error('docs/oauth.md lost its demo-oauth-flow block');
  expect(block).toContain('GW=http://localhost:8000');
  return `set -euo pipefail\n${block.replace('GW=http://localhost:8000', `GW=http://localhost:${port}`)}`;
}

describe('the demo OAuth flow of docs/oauth.md', () => {
  let gw: GatewayProcess;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-demo-oauth-'));
    gw = await spawnListening(['demo'], { dir, env: { TOLLGATE_DEMO_DIR: join(dir, 'demo') } }, '', true);
    for (let i = 0; i < 100 && !gw.stdout().includes('grant_type=client_credentials'); i++) await new Promise((r) => setTimeout(r, 50));
  });
  afterAll(async () => {
    expect(await gw?.stop()).toBe(0);
  });

  it('runs the documented provision-key flow with curl: code, tokens, chat, refresh, introspect, revoke', async () => {
    const { stdout } = await exec('bash', ['-c', documentedScript(gw.ports.proxy!)]);
    expect(stdout).toMatch(/"token_type": "Bearer"/);
    expect(stdout).toMatch(/"refresh_token": "[\w-]{43}"/);
    expect(stdout).toContain('Hello');
    expect(stdout).toMatch(/"active": true,\s+"sub": "demo-user",\s+"scope": "api.read api.write"/);
    expect(stdout).toContain('after revocation: 401');
  });

  it("runs the README's shorter version of it", async () => {
    const readme = readFileSync('README.md', 'utf8');
    const block = /### OAuth 2\.1 in the demo[\s\S]*?```bash\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toContain('GW=http://localhost:8000');
    const { stdout } = await exec('bash', ['-c', `set -euo pipefail\n${block!.replace('GW=http://localhost:8000', `GW=http://localhost:${gw.ports.proxy}`)}`]);
    expect(JSON.parse(stdout)).toMatchObject({ object: 'chat.completion' });
  });

  it('prints a client_credentials curl that works as printed', async () => {
    const line = gw.stdout().split('\n').find((l) => l.includes('grant_type=client_credentials'));
    expect(line).toContain(`localhost:${gw.ports.proxy}`);
    const { stdout } = await exec('bash', ['-c', line!.trim()]);
    expect(JSON.parse(stdout)).toMatchObject({ token_type: 'Bearer', access_token: expect.any(String) });
  });
});
