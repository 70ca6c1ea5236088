import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../core/errors.js';
import { builtinRegistry } from '../plugins/index.js';
import { ConfigSource } from '../server/configSource.js';
import { startDemoUpstreams, DEFAULT_CHAT_MODEL, type DemoUpstreams } from '../demo/index.js';
import { createLogger } from './logger.js';
import { runGateway } from './start.js';
import { demoConsumers, demoIdentity, demoMintHint, DEMO_USER, type DemoIdentity } from './demoIdentity.js';
import { demoOAuth, demoOAuthGateway, demoOAuthLines, demoOAuthPlugin, withDemoClient, type DemoOAuth } from './demoOAuth.js';

const DATA_DIR = process.env.TOLLGATE_DEMO_DIR ?? join('.tollgate', 'demo');

/**
 * The demo profile's config (SPEC §1): the seed's three services, pointed at the built-in demo
 * upstreams, on an embedded store with in-process counters and a self-signed certificate.
 */
export function demoConfig(up: DemoUpstreams, identity?: DemoIdentity, oauth?: DemoOAuth): Record<string, unknown> {
  return {
    _format_version: '3.0',
    gateway: {
      data_dir: DATA_DIR,
      store: `sqlite://${join(DATA_DIR, 'tollgate.db')}`,
      ...(oauth ? demoOAuthGateway(oauth) : {}),
    },
    services: [
      { name: 'agent-router', url: up.agentRouter, routes: [{ name: 'agents', paths: ['/v1/agents'], strip_path: false }] },
      {
        name: 'llm-gateway',
        url: up.openai,
        read_timeout: 300_000,
        routes: [{ name: 'chat', paths: ['/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/models', '/v1/responses', '/v1/messages'], strip_path: false }],
      },
      { name: 'mcpjungle', url: up.mcp, routes: [{ name: 'mcp', paths: ['/mcp'], strip_path: false }] },
    ],
    plugins: [...(identity ? [{ name: 'jwt' }, ...demoLimits()] : []), ...(oauth ? [demoOAuthPlugin()] : []), ...demoObservability()],
    consumers: identity ? (oauth ? withDemoClient(demoConsumers(identity)) : demoConsumers(identity)) : [],
    workspaces: identity ? [{ id: DEMO_WORKSPACE, members: [DEMO_USER] }] : [],
  };
}

/** The demo user's workspace: requests without X-Workspace-Id are charged to it. */
export const DEMO_WORKSPACE = 'demo-workspace';

/**
 * The seed's three limit layers (SPEC §7) with its numbers, on in-process counters: 100
 * requests/minute per IP, 1000/hour per user, 1M tokens/day per workspace. Every response shows
 * X-RateLimit-* and X-Token-Budget-*; `GET /workspaces/demo-workspace` on the admin port shows
 * the budget.
 */
export function demoLimits(): Record<string, unknown>[] {
  return [
    { name: 'rate-limiting', instance_name: 'per-ip', config: { minute: 100, limit_by: 'ip' } },
    { name: 'rate-limiting', instance_name: 'per-user', config: { hour: 1000, limit_by: 'user' } },
    { name: 'token-budget', config: { day: 1_000_000 } },
  ];
}

/**
 * Observability in the demo: every request audited to a tamper-evident file in the demo data dir
 * (`tollgate audit verify` checks it), Kong-named metrics on the status listener's /metrics.
 */
export function demoObservability(): Record<string, unknown>[] {
  return [{ name: 'audit-log', config: { path: join(DATA_DIR, 'audit.log'), tamper_evident: true } }, { name: 'prometheus' }];
}

/** The ready-to-paste request printed once the demo listens. */
export function demoCurl(port: number, token?: string): string {
  const body = JSON.stringify({ model: DEFAULT_CHAT_MODEL, messages: [{ role: 'user', content: 'Hello' }] });
  const auth = token === undefined ? '' : ` -H 'Authorization: Bearer ${token}'`;
  return `curl -s http://localhost:${port}/v1/chat/completions${auth} -H 'Content-Type: application/json' -d '${body}'`;
}

/** `tollgate demo` (= `npm start`). */
export async function demoCommand(): Promise<void> {
  const logger = createLogger(process.env.TOLLGATE_LOG_LEVEL ?? 'info');
  try {
    mkdirSync(DATA_DIR, { recursive: true });
  } catch (err) {
    throw new UserError(`the demo keeps its state in ${resolve(DATA_DIR)}: cannot create it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); run it from a directory you can write to, or set TOLLGATE_DEMO_DIR`);
  }
  const upstreams = await startDemoUpstreams();
  const identity = await demoIdentity(DATA_DIR);
  const oauth = await demoOAuth(DATA_DIR);
  const source = ConfigSource.fromDocument('<demo>', demoConfig(upstreams, identity, oauth), builtinRegistry());
  const gateway = await runGateway(source, logger);
  const port = gateway.ports.proxy;
  const lines = [
    '',
    'tollgate demo is running:',
    `  proxy   http://localhost:${port}    (https on ${gateway.ports.proxy_tls}, self-signed)`,
    `  admin   http://127.0.0.1:${gateway.ports.admin}`,
    `  status  http://localhost:${gateway.ports.status}/metrics`,
    `  audit   ${join(DATA_DIR, 'audit.log')}    (check it: npx tollgate audit verify ${join(DATA_DIR, 'audit.log')})`,
    '',
    'Try it:',
    `  ${port === null ? '(proxy listener is off)' : demoCurl(port, identity.token)}`,
    '',
    `Limits: 100 requests/minute per IP, 1000/hour per user, 1M tokens/day for workspace '${DEMO_WORKSPACE}'`,
    `  (see the X-RateLimit-* and X-Token-Budget-* response headers; curl -s http://127.0.0.1:${gateway.ports.admin}/workspaces/${DEMO_WORKSPACE})`,
    '',
    `The token (consumer 'demo', valid 24 h) was minted with the demo key; for another:`,
    `  ${demoMintHint(identity)}`,
    '',
    ...(port === null ? [] : [...demoOAuthLines(port), '']),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  process.once('exit', () => void upstreams.close());
}
