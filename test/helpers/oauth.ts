import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oauth from 'oauth4webapi';
import { request } from 'undici';
import { startGateway, type GatewayProcess, type RunOptions } from './gateway.js';
import { freePort } from './ports.js';

/**
 * Test kit for the oauth2 plugin: a gateway whose `gateway.issuer` is its own proxy URL
 * (the port is chosen first), clients registered through the Admin API like the seed's curl,
 * and oauth4webapi (the independent client) configured from the gateway's RFC 8414 metadata.
 */

export const REDIRECT = 'https://your-app.com/callback';
export const INSECURE = { [oauth.allowInsecureRequests]: true } as const;

/** A PEM private key file in a fresh temp dir. */
export function keyFile(bits = 2048): string {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-key-'));
  const file = join(dir, 'private.pem');
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  return file;
}

export interface OAuthGateway {
  gw: GatewayProcess;
  issuer: string;
  /** The gateway's config without test defaults (rewrite it with `gw.writeConfig`). */
  config: Record<string, unknown>;
}

/**
 * Starts a gateway on a chosen proxy port with `gateway.issuer = http://127.0.0.1:<port>`.
 * `build(issuer)` returns the whole config; `gateway.issuer` is set on it.
 */
export async function startOAuthGateway(build: (issuer: string) => Record<string, unknown>, opts: RunOptions = {}): Promise<OAuthGateway> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const config = build(issuer);
    try {
      const gw = await startGateway(config, { ...opts, env: { TOLLGATE_PROXY_LISTEN: `127.0.0.1:${port}`, ...opts.env } });
      return { gw, issuer, config };
    } catch (err) {
      if (attempt >= 2 || !String(err).includes('address already in use')) throw err;
    }
  }
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json<T = Record<string, unknown>>(): T;
}

export async function http(url: string, init: { method?: string; headers?: Record<string, string>; body?: string; form?: Record<string, string> } = {}): Promise<HttpAnswer> {
  const headers = { ...init.headers };
  let body = init.body;
  if (init.form !== undefined) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(init.form).toString();
  }
  const res = await request(url, { method: (init.method ?? (body === undefined ? 'GET' : 'POST')) as 'GET', headers, body });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: <T>() => JSON.parse(text) as T };
}

/** Registers a client the way the seed does: form-urlencoded with `redirect_uris[]=…`. */
export async function registerClient(
  gw: GatewayProcess,
  consumer: string,
  fields: { name?: string; client_id?: string; client_secret?: string; client_type?: 'public' | 'confidential'; redirect_uris?: string[] },
): Promise<{ client_id: string; client_secret?: string; id: string }> {
  const form = new URLSearchParams();
  form.append('name', fields.name ?? 'My Application');
  if (fields.client_id) form.append('client_id', fields.client_id);
  if (fields.client_secret) form.append('client_secret', fields.client_secret);
  if (fields.client_type) form.append('client_type', fields.client_type);
  for (const uri of fields.redirect_uris ?? [REDIRECT]) form.append('redirect_uris[]', uri);
  const res = await http(`${gw.adminUrl}/consumers/${consumer}/oauth2`, { body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  if (res.status !== 201) throw new Error(`client registration answered ${res.status}: ${res.text}`);
  return res.json();
}

/** The gateway's metadata, read and checked by oauth4webapi. */
export async function discover(issuer: string): Promise<oauth.AuthorizationServer> {
  const url = new URL(issuer);
  return oauth.processDiscoveryResponse(url, await oauth.discoveryRequest(url, { algorithm: 'oauth2', ...INSECURE }));
}

export interface Pkce {
  verifier: string;
  challenge: string;
}

export async function pkce(): Promise<Pkce> {
  const verifier = oauth.generateRandomCodeVerifier();
  return { verifier, challenge: await oauth.calculatePKCECodeChallenge(verifier) };
}

/**
 * Kong's provision-key flow: the application's backend asks for a code for a user. Returns the
 * answer; on success `redirect_uri` is the client callback URL with `code`, `state`, `iss`.
 */
export async function provisionAuthorize(issuer: string, params: Record<string, string>): Promise<HttpAnswer> {
  return http(`${issuer}/oauth2/authorize`, { form: { response_type: 'code', redirect_uri: REDIRECT, ...params } });
}

/** Authorization code + PKCE through the provision-key flow, then the token request, all checked by oauth4webapi. */
export async function codeFlow(
  as: oauth.AuthorizationServer,
  p: { clientId: string; auth: oauth.ClientAuth; provisionKey: string; user: string; scope?: string },
): Promise<oauth.TokenEndpointResponse> {
  const { verifier, challenge } = await pkce();
  const state = oauth.generateRandomState();
  const res = await provisionAuthorize(as.issuer, {
    client_id: p.clientId,
    scope: p.scope ?? 'api.read api.write',
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    provision_key: p.provisionKey,
    authenticated_userid: p.user,
  });
  if (res.status !== 200) throw new Error(`authorize answered ${res.status}: ${res.text}`);
  const client: oauth.Client = { client_id: p.clientId };
  const callback = oauth.validateAuthResponse(as, client, new URL(res.json<{ redirect_uri: string }>().redirect_uri), state);
  const tokenRes = await oauth.authorizationCodeGrantRequest(as, client, p.auth, callback, REDIRECT, verifier, INSECURE);
  return oauth.processAuthorizationCodeResponse(as, client, tokenRes);
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}
