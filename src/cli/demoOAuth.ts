import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeKeyPair } from './keys.js';

/**
 * The demo's OAuth 2.1 authorization server (docs/oauth.md, "The demo, step by step"): issuer
 * `http://localhost:<proxy port>`, a signing key generated into `<dataDir>/oauth` on the first
 * run, the oauth2 plugin with a provision key, and one confidential client declared in the
 * config like any config-file client, so the provision-key flow works offline with curl.
 */

export const DEMO_OAUTH = {
  clientId: 'demo-app',
  clientSecret: 'demo-app-secret',
  redirectUri: 'http://localhost:3000/callback',
  provisionKey: 'demo-provision-key',
  scopes: ['api.read', 'api.write'],
  kid: 'demo-oauth-1',
} as const;

export interface DemoOAuth {
  issuer: string;
  signingKeyFile: string;
}

/** The proxy port the demo will listen on (TOLLGATE_PROXY_LISTEN when it names one, else Kong's 8000). */
function demoPort(): number {
  const port = Number(/(\d+)$/.exec(process.env.TOLLGATE_PROXY_LISTEN ?? '')?.[1] ?? 0);
  return port > 0 ? port : 8000;
}

export async function demoOAuth(dataDir: string): Promise<DemoOAuth> {
  const dir = join(dataDir, 'oauth');
  const signingKeyFile = join(dir, 'private.pem');
  if (!existsSync(signingKeyFile)) await writeKeyPair(dir, 2048);
  return { issuer: `http://localhost:${demoPort()}`, signingKeyFile };
}

/** `gateway.issuer` and `gateway.signing_keys` of the demo. */
export function demoOAuthGateway(o: DemoOAuth): Record<string, unknown> {
  return { issuer: o.issuer, signing_keys: [{ kid: DEMO_OAUTH.kid, private_key_file: o.signingKeyFile }] };
}

/** The oauth2 plugin entry (global: it serves /oauth2/* and accepts its tokens everywhere). */
export function demoOAuthPlugin(): Record<string, unknown> {
  return { name: 'oauth2', config: { provision_key: DEMO_OAUTH.provisionKey, scopes: [...DEMO_OAUTH.scopes], enable_client_credentials: true } };
}

/** Adds the demo client to the demo consumer's config entry. */
export function withDemoClient(consumers: Record<string, unknown>[]): Record<string, unknown>[] {
  const client = { name: 'Demo App', client_id: DEMO_OAUTH.clientId, client_secret: DEMO_OAUTH.clientSecret, redirect_uris: [DEMO_OAUTH.redirectUri] };
  return consumers.map((c, i) => (i === 0 ? { ...c, oauth2_credentials: [client] } : c));
}

/** The banner's OAuth lines. */
export function demoOAuthLines(port: number): string[] {
  return [
    `OAuth 2.1: client '${DEMO_OAUTH.clientId}' (secret '${DEMO_OAUTH.clientSecret}'), provision key '${DEMO_OAUTH.provisionKey}'; the PKCE flow step by step in docs/oauth.md. A client_credentials token:`,
    `  curl -s -X POST http://localhost:${port}/oauth2/token -u ${DEMO_OAUTH.clientId}:${DEMO_OAUTH.clientSecret} -d grant_type=client_credentials`,
  ];
}
