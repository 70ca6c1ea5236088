import { emptyIdentity, type RequestContext } from '../core/context.js';
import { hashSecret, verifySecret } from '../store/secretHash.js';
import type { ClientCache, ClientInfo } from './clientCache.js';
import { OAuthError } from './errors.js';
import type { Params } from './http.js';
import { randomToken, sha256Hex } from './randoms.js';

/**
 * Client authentication at the token, revocation and introspection endpoints:
 * `client_secret_basic` (RFC 6749 §2.3.1: form-encoded id and secret, base64 in
 * `Authorization: Basic`), `client_secret_post` (both in the body) or, for public clients,
 * `none` (just `client_id`). Secrets are checked against their scrypt hash in constant time; an
 * unknown client costs the same scrypt work as a known one.
 */

export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none';

export interface PresentedClient {
  clientId: string;
  secret: string | null;
  method: ClientAuthMethod;
}

const BASIC_CHALLENGE = { 'www-authenticate': 'Basic realm="tollgate", charset="UTF-8"' };

function formDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

function invalidClient(method: ClientAuthMethod, description: string): OAuthError {
  return new OAuthError('invalid_client', description, { headers: method === 'client_secret_basic' ? BASIC_CHALLENGE : undefined });
}

/** Who the request says it is, and how (throws invalid_request / invalid_client). */
export function presentedClient(ctx: RequestContext, params: Params): PresentedClient {
  const auth = ctx.req.headers.authorization;
  const bodyId = params.get('client_id');
  const bodySecret = params.get('client_secret');
  if (typeof auth === 'string' && /^basic /i.test(auth)) {
    if (bodySecret !== null) throw new OAuthError('invalid_request', 'use one client authentication method: Authorization: Basic or client_secret in the body, not both');
    const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw invalidClient('client_secret_basic', 'malformed Basic credentials; expected base64(client_id:client_secret)');
    const clientId = formDecode(decoded.slice(0, colon));
    if (bodyId !== null && bodyId !== clientId) throw new OAuthError('invalid_request', 'client_id in the body differs from the Basic credentials');
    return { clientId, secret: formDecode(decoded.slice(colon + 1)), method: 'client_secret_basic' };
  }
  if (bodyId === null) throw invalidClient('none', 'client authentication is required (client_id, and client_secret for a confidential client)');
  return bodySecret !== null ? { clientId: bodyId, secret: bodySecret, method: 'client_secret_post' } : { clientId: bodyId, secret: null, method: 'none' };
}

let decoyHash: Promise<string> | null = null;
/** Verified (client, secret, stored hash) triples, so a busy client does not pay scrypt per request. */
const verified = new Map<string, number>();
const VERIFIED_TTL_MS = 60_000;

async function secretMatches(clientId: string, secret: string, hash: string): Promise<boolean> {
  const key = `${clientId}\u0000${sha256Hex(secret)}\u0000${hash}`;
  const at = verified.get(key);
  if (at !== undefined && Date.now() - at < VERIFIED_TTL_MS) return true;
  const ok = await verifySecret(secret, hash);
  if (ok) {
    if (verified.size >= 10_000) verified.clear();
    verified.set(key, Date.now());
  }
  return ok;
}

/** Authenticates the client against the store (never the cache); throws invalid_client. */
/**
 * The client of a token, revoke or introspect request, authenticated (RFC 6749 §2.3), and
 * recorded as the request's identity: its audit record names `client_id`, `consumer` and
 * `auth_method: oauth2` (a refused client leaves them null: nothing was established).
 */
export async function authenticatedClient(ctx: RequestContext, params: Params, clients: ClientCache): Promise<ClientInfo> {
  const client = await authenticateClient(presentedClient(ctx, params), clients);
  const c = client.credential;
  ctx.identity = { ...emptyIdentity('oauth2'), clientId: c.client_id, consumerId: c.consumer_id, consumerUsername: client.consumerUsername, consumerCustomId: client.consumerCustomId, credentialId: c.id };
  return client;
}

export async function authenticateClient(presented: PresentedClient, clients: ClientCache): Promise<ClientInfo> {
  const client = await clients.fresh(presented.clientId);
  const hash = client?.credential.client_secret_hash ?? null;
  if (client === null || (client.credential.client_type === 'confidential' && hash === null)) {
    if (presented.secret !== null) {
      decoyHash ??= hashSecret(randomToken());
      await verifySecret(presented.secret, await decoyHash);
    }
    throw invalidClient(presented.method, 'unknown client or wrong client credentials');
  }
  if (client.credential.client_type === 'public') {
    if (presented.secret !== null) throw invalidClient(presented.method, 'a public client has no client_secret; send client_id only');
    return client;
  }
  if (presented.secret === null) throw invalidClient(presented.method, 'this confidential client must authenticate with its client_secret');
  if (!(await secretMatches(presented.clientId, presented.secret, hash!))) throw invalidClient(presented.method, 'unknown client or wrong client credentials');
  return client;
}
