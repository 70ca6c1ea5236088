import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { rsaPair, sign, type RsaPair } from './jwt.js';

/**
 * A test identity provider shaped like Keycloak: `/realms/{realm}/protocol/openid-connect/certs`
 * (JWKS, with an `enc` key beside the signing keys, as Keycloak publishes) and
 * `/realms/{realm}/.well-known/openid-configuration`. Keys can be rotated and the server can
 * be taken "down" (503 on every call) to test caching and outages.
 */
export interface FakeKeycloak {
  baseUrl: string;
  realm: string;
  issuer: string;
  certsUrl: string;
  discoveryUrl: string;
  /** Requests served per path (`certs`, `discovery`). */
  fetches: { certs: number; discovery: number };
  /** Adds a signing key and publishes it (with the current ones unless `replace`). */
  rotate(opts?: { replace?: boolean }): string;
  /** The kid currently used by `token()` (the newest key). */
  currentKid(): string;
  setDown(down: boolean): void;
  /** The JWKS endpoint misbehaves: `trickle` (200, then a space every 500 ms, never done), `huge` (2 MiB, chunked, no Content-Length); null: normal. */
  setMisbehaviour(mode: 'trickle' | 'huge' | null): void;
  /** A Keycloak-like access token signed with `kid` (default: the newest key). */
  token(claims?: Record<string, unknown>, opts?: { kid?: string; alg?: string }): Promise<string>;
  close(): Promise<void>;
}

export async function startKeycloak(realm = 'kong', tls?: { cert: string; key: string }): Promise<FakeKeycloak> {
  const keys = new Map<string, RsaPair>();
  let published: string[] = [];
  let down = false;
  let misbehaviour: 'trickle' | 'huge' | null = null;
  const enc = rsaPair(2048);
  const fetches = { certs: 0, discovery: 0 };
  let base = '';

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    if (down) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('down');
      return;
    }
    if (url === `/realms/${realm}/protocol/openid-connect/certs`) {
      fetches.certs++;
      if (misbehaviour === 'trickle') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{');
        const timer = setInterval(() => res.write(' '), 500);
        res.on('close', () => clearInterval(timer));
        return;
      }
      const jwks = published.map((kid) => ({ ...keys.get(kid)!.publicKey.export({ format: 'jwk' }), kid, kty: 'RSA', alg: 'RS256', use: 'sig' }));
      jwks.push({ ...enc.publicKey.export({ format: 'jwk' }), kid: 'enc-key', kty: 'RSA', alg: 'RSA-OAEP', use: 'enc' });
      if (misbehaviour === 'huge') {
        // Valid keys, padded past any sane JWKS size, with no Content-Length to go by.
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(`{"keys":${JSON.stringify(jwks)},"pad":"`);
        for (let i = 0; i < 32; i++) res.write('x'.repeat(64 * 1024));
        res.end('"}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: jwks }));
      return;
    }
    if (url === `/realms/${realm}/.well-known/openid-configuration`) {
      fetches.discovery++;
      const issuer = `${base}/realms/${realm}`;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer, jwks_uri: `${issuer}/protocol/openid-connect/certs`, token_endpoint: `${issuer}/protocol/openid-connect/token` }));
      return;
    }
    res.writeHead(404).end();
  };
  const server: Server = tls ? createHttpsServer(tls, handler) : createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const issuer = `${base}/realms/${realm}`;

  const rotate = (opts: { replace?: boolean } = {}) => {
    const kid = `kid-${randomUUID().slice(0, 8)}`;
    keys.set(kid, rsaPair(2048));
    published = opts.replace ? [kid] : [...published, kid];
    return kid;
  };
  rotate();

  return {
    baseUrl: base,
    realm,
    issuer,
    certsUrl: `${issuer}/protocol/openid-connect/certs`,
    discoveryUrl: `${issuer}/.well-known/openid-configuration`,
    fetches,
    rotate,
    currentKid: () => published[published.length - 1]!,
    setDown: (d) => (down = d),
    setMisbehaviour: (m) => (misbehaviour = m),
    token(claims = {}, opts = {}) {
      const kid = opts.kid ?? published[published.length - 1]!;
      const t = Math.floor(Date.now() / 1000);
      const payload = {
        exp: t + 300,
        iat: t,
        jti: randomUUID(),
        iss: issuer,
        aud: 'account',
        sub: 'f1d4c0de-0000-4000-8000-000000000001',
        typ: 'Bearer',
        azp: 'web-app',
        session_state: randomUUID(),
        realm_access: { roles: ['offline_access', 'ai-user'] },
        resource_access: { account: { roles: ['manage-account'] } },
        scope: 'openid profile email',
        preferred_username: 'alice',
        ...claims,
      };
      return sign(payload, keys.get(kid)!.privateKey, { alg: opts.alg ?? 'RS256', kid });
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
