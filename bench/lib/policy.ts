import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, importPKCS8 } from 'jose';

/**
 * The seed's full policy set for the benchmark: RS256 JWT (4096-bit key), per-IP and per-user
 * rate limits, a daily token budget, the audit log to a file, Prometheus. Limits are set high
 * so that every request is admitted: the point is the cost of checking them.
 */
/** A gateway config as the bench writes it; `plugins` typed so that variants can pick from it. */
export interface BenchConfig {
  plugins: Array<{ name: string; instance_name?: string; config?: Record<string, unknown> }>;
  [key: string]: unknown;
}

export interface PolicyFixture {
  config(upstreamPort: number, redisUrl?: string): BenchConfig;
  token: string;
  /** wrk Lua script that POSTs a chat completion with the token and workspace. */
  script: string;
}

export async function policyFixture(): Promise<PolicyFixture> {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 4096 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ kid: 'bench-key', scopes: ['api.read', 'api.write'], workspaces: ['bench'] })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
    .setIssuer('bench-key')
    .setSubject('bench-user')
    .setAudience('ai-platform')
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + 6 * 3600)
    .sign(await importPKCS8(pem, 'RS256'));
  const dir = mkdtempSync(join(tmpdir(), 'bench-policy-'));
  const script = join(dir, 'chat.lua');
  const body = JSON.stringify({ model: 'bench-model', max_tokens: 64, messages: [{ role: 'user', content: 'Say ok.' }] });
  writeFileSync(
    script,
    `wrk.method = "POST"\nwrk.body = '${body}'\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "Bearer ${token}"\nwrk.headers["X-Workspace-Id"] = "bench"\n`,
  );
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return {
    token,
    script,
    config: (upstreamPort, redisUrl) => {
      const policy = redisUrl ? 'redis' : 'local';
      return {
        gateway: redisUrl ? { redis: redisUrl } : {},
        consumers: [{ username: 'bench', jwt_secrets: [{ key: 'bench-key', algorithm: 'RS256', rsa_public_key: publicPem }] }],
        services: [{ name: 'llm-gateway', url: `http://127.0.0.1:${upstreamPort}`, routes: [{ name: 'chat', paths: ['/v1/chat/completions'], strip_path: false }] }],
        plugins: [
          { name: 'jwt' },
          { name: 'rate-limiting', instance_name: 'per-ip', config: { minute: 1_000_000_000, limit_by: 'ip', policy } },
          { name: 'rate-limiting', instance_name: 'per-user', config: { hour: 1_000_000_000, limit_by: 'user', policy } },
          { name: 'token-budget', config: { day: 1_000_000_000_000, policy } },
          { name: 'audit-log', config: { path: join(dir, 'audit.log') } },
          { name: 'prometheus' },
        ],
      };
    },
  };
}
