import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { discoverAuthorizationServerMetadata, discoverOAuthProtectedResourceMetadata, extractWWWAuthenticateParams } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthDiscoveryState } from '@modelcontextprotocol/sdk/client/auth.js';
import { startMcpServer } from '../src/demo/mcpServer.js';
import type { DemoServer } from '../src/demo/demoHttp.js';
import { startUpstream, type TestUpstream } from './helpers/upstream.js';
import { http, keyFile, registerClient, startOAuthGateway, type OAuthGateway } from './helpers/oauth.js';

/**
 * RFC 9728 protected resource metadata through a real gateway, read by the MCP SDK's own
 * discovery functions and by an SDK Client whose authProvider holds a pre-registered
 * client_credentials client (tollgate has no dynamic registration): the metadata of oauth2,
 * jwt and custom-jwt-auth routes, `resource_metadata` in their 401s, 404 for what is not a
 * protected resource, and X-Forwarded-* honoured only from a trusted proxy.
 */

const KEYCLOAK_ISSUER = 'https://idp.example.com/realms/ai';
const WELL_KNOWN = '/.well-known/oauth-protected-resource';
const OAUTH2 = { scopes: ['mcp.tools'], enable_client_credentials: true };
/** What the SDK's Streamable HTTP transport sends with every POST. */
const MCP_ACCEPT = { accept: 'application/json, text/event-stream' };

describe('RFC 9728 protected resource metadata for MCP clients', () => {
  let mcp: DemoServer;
  let up: TestUpstream;
  let og: OAuthGateway;
  let client: { client_id: string; client_secret?: string };

  beforeAll(async () => {
    [mcp, up] = await Promise.all([startMcpServer(), startUpstream()]);
    og = await startOAuthGateway((issuer) => ({
      gateway: { issuer, signing_keys: [{ kid: 'k1', private_key_file: keyFile() }], trusted_proxies: ['127.0.0.1/32'] },
      services: [
        {
          name: 'mcpjungle',
          url: mcp.url,
          routes: [
            { name: 'mcp', paths: ['/mcp'], strip_path: false, plugins: [{ name: 'oauth2', config: OAUTH2 }] },
            { name: 'internal', paths: ['/internal'], hosts: ['mcp.internal'], plugins: [{ name: 'oauth2', config: OAUTH2 }] },
          ],
        },
        {
          name: 'echo',
          url: up.url,
          routes: [
            { name: 'agents', paths: ['/v1/agents/'], plugins: [{ name: 'jwt' }, { name: 'access-control', config: { required_scopes: ['api.write'] } }] },
            { name: 'realm', paths: ['/kc'], plugins: [{ name: 'custom-jwt-auth', config: { jwks_uri: 'http://127.0.0.1:9/certs', expected_issuer: KEYCLOAK_ISSUER } }] },
            { name: 'public', paths: ['/public'] },
          ],
        },
      ],
      consumers: [{ username: 'agent' }],
    }));
    client = await registerClient(og.gw, 'agent', { client_id: 'mcp-agent', client_secret: 'mcp-agent-secret-0123456789' });
  });
  afterAll(async () => {
    await og?.gw.stop();
    await Promise.all([mcp?.close(), up?.close()]);
  });

  it('serves the oauth2 route\'s metadata where the SDK looks, naming this gateway as its authorization server', async () => {
    const prm = await discoverOAuthProtectedResourceMetadata(new URL(`${og.issuer}/mcp`));
    expect(prm).toEqual({
      resource: `${og.issuer}/mcp`,
      authorization_servers: [og.issuer],
      bearer_methods_supported: ['header'],
      scopes_supported: ['mcp.tools'],
      resource_name: 'mcp',
    });
    const as = await discoverAuthorizationServerMetadata(prm.authorization_servers![0]!);
    expect(as).toMatchObject({ issuer: og.issuer, token_endpoint: `${og.issuer}/oauth2/token` });

    const res = await http(`${og.issuer}${WELL_KNOWN}/mcp`);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.headers['cache-control']).toBe('public, max-age=300');
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['x-request-id']).toBeTruthy();
  });

  it('points to it from the route\'s 401s to MCP clients, keeping error and error_description; other clients get SPEC §4\'s plain challenge', async () => {
    const metadataUrl = `${og.issuer}${WELL_KNOWN}/mcp`;
    const none = await fetch(`${og.issuer}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', ...MCP_ACCEPT }, body: '{}' });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${metadataUrl}"`);
    expect(extractWWWAuthenticateParams(none).resourceMetadataUrl?.href).toBe(metadataUrl);
    expect(await none.json()).toEqual({ message: 'Unauthorized', request_id: none.headers.get('x-request-id') });

    const bad = await fetch(`${og.issuer}/mcp`, { method: 'POST', headers: { authorization: 'Bearer not-a-jwt', ...MCP_ACCEPT }, body: '{}' });
    expect(bad.status).toBe(401);
    const challenge = bad.headers.get('www-authenticate')!;
    expect(challenge).toMatch(/^Bearer error="invalid_token", error_description="[^"]+", resource_metadata="([^"]+)"$/);
    expect(extractWWWAuthenticateParams(bad)).toMatchObject({ error: 'invalid_token', resourceMetadataUrl: new URL(metadataUrl) });
    const session = await fetch(`${og.issuer}/mcp`, { method: 'POST', headers: { 'mcp-protocol-version': '2025-06-18' }, body: '{}' });
    expect(session.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${metadataUrl}"`);

    // Not an MCP client (no event-stream Accept, no Mcp-* header): exactly SPEC §4's challenges.
    const plain = await fetch(`${og.issuer}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: '{}' });
    expect(plain.headers.get('www-authenticate')).toBe('Bearer');
    const plainBad = await fetch(`${og.issuer}/mcp`, { method: 'POST', headers: { authorization: 'Bearer not-a-jwt' }, body: '{}' });
    expect(plainBad.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token", error_description="[^"]+"$/);
  });

  it('lets an SDK Client with a pre-registered client_credentials client discover, get a token and call a tool', async () => {
    let discovered: OAuthDiscoveryState | undefined;
    const provider = new (class extends ClientCredentialsProvider {
      saveDiscoveryState(state: OAuthDiscoveryState): void {
        discovered = state;
      }
    })({ clientId: client.client_id, clientSecret: client.client_secret!, expectedIssuer: og.issuer, scope: 'mcp.tools' });
    const sdk = new Client({ name: 'tollgate-test', version: '1.0.0' });
    await sdk.connect(new StreamableHTTPClientTransport(new URL(`${og.issuer}/mcp`), { authProvider: provider }));
    try {
      const result = await sdk.callTool({ name: 'calculator', arguments: { expression: '6 * 7' } });
      expect((result.content as Array<{ text?: string }>)[0]?.text).toBe('42');
    } finally {
      await sdk.close();
    }
    // Found through RFC 9728, not the SDK's legacy "the MCP server is the authorization server" guess.
    expect(discovered?.authorizationServerUrl).toBe(og.issuer);
    expect(discovered?.resourceMetadata?.resource).toBe(`${og.issuer}/mcp`);
    expect(provider.tokens()?.scope).toBe('mcp.tools');
  });

  it('describes jwt and custom-jwt-auth routes with the issuers they accept and the scopes access-control requires', async () => {
    const agents = await http(`${og.issuer}${WELL_KNOWN}/v1/agents`);
    expect(agents.status).toBe(200);
    expect(agents.json()).toEqual({
      resource: `${og.issuer}/v1/agents`,
      authorization_servers: [og.issuer], // jwt accepts this gateway's own tokens
      bearer_methods_supported: ['header'],
      scopes_supported: ['api.write'],
      resource_name: 'agents',
    });
    const denied = await http(`${og.issuer}/v1/agents/run`, { headers: MCP_ACCEPT });
    expect(denied.status).toBe(401);
    expect(denied.headers['www-authenticate']).toBe(`Bearer resource_metadata="${og.issuer}${WELL_KNOWN}/v1/agents"`);

    const realm = await http(`${og.issuer}${WELL_KNOWN}/kc`);
    expect(realm.json()).toMatchObject({ resource: `${og.issuer}/kc`, authorization_servers: [KEYCLOAK_ISSUER] });
  });

  it('answers 404 for paths that are no protected resource', async () => {
    for (const path of [`${WELL_KNOWN}/public`, WELL_KNOWN, `${WELL_KNOWN}/nothing`]) {
      const res = await http(`${og.issuer}${path}`);
      expect(res.status, path).toBe(404);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(res.json()).toEqual({ message: 'no Route matched with those values', request_id: res.headers['x-request-id'] });
    }
  });

  it('answers for the route that serves the path on the request\'s host', async () => {
    const elsewhere = await http(`${og.issuer}${WELL_KNOWN}/internal`);
    expect(elsewhere.status).toBe(404);
    expect(elsewhere.json<{ message: string }>().message).toMatch(/^No bearer-protected route serves \/internal on this host/);
    const port = new URL(og.issuer).port;
    const there = await http(`${og.issuer}${WELL_KNOWN}/internal`, { headers: { host: `mcp.internal:${port}` } });
    expect(there.json()).toMatchObject({ resource: `http://mcp.internal:${port}/internal`, resource_name: 'internal' });
  });

  it('names the origin a trusted proxy forwarded, and ignores those headers from anyone else', async () => {
    const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'mcp.example.com' };
    const trusted = await http(`${og.issuer}${WELL_KNOWN}/mcp`, { headers: forwarded });
    expect(trusted.json()).toMatchObject({ resource: 'https://mcp.example.com/mcp', authorization_servers: [og.issuer] });
    expect(trusted.headers.vary).toContain('X-Forwarded-Host');
    const trusted401 = await http(`${og.issuer}/mcp`, { method: 'POST', headers: { ...forwarded, ...MCP_ACCEPT }, body: '{}' });
    expect(trusted401.headers['www-authenticate']).toBe(`Bearer resource_metadata="https://mcp.example.com${WELL_KNOWN}/mcp"`);

    // 127.0.0.2 is not in trusted_proxies: its X-Forwarded-* are the client's own words.
    const untrusted = new Agent({ localAddress: '127.0.0.2' });
    try {
      const res = await request(`${og.issuer}${WELL_KNOWN}/mcp`, { headers: forwarded, dispatcher: untrusted });
      expect(((await res.body.json()) as { resource: string }).resource).toBe(`${og.issuer}/mcp`);
    } finally {
      await untrusted.close();
    }
  });
});
