import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A scriptable external auth service (seed 004's `auth-service:8003/auth/verify`). The caller's
 * bearer token picks the answer:
 *   allow-<user>[-<scope>…]  200 {user_id, client_id, username, enterprise_id, roles, workspaces, scopes}
 *   camel-<user>             200 with camelCase fields
 *   admin-<user>             200 with roles ["admin"]
 *   nostore-<user>           200 like allow, with Cache-Control: no-store
 *   html                     200 with an HTML page (a maintenance page served with 200)
 *   empty                    204, no body
 *   plain                    200 text/plain "OK" (an nginx auth_request-style service)
 *   deny / forbid            401 / 403
 *   fail                     500
 *   status-<code>            that status (e.g. status-501)
 *   hang                     never answers
 *   trickle                  200, then its JSON one space every 200 ms for 20 s
 */
export interface AuthCall {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface FakeAuthService {
  url: string;
  calls: AuthCall[];
  /** Calls made for one gateway request (by X-Request-ID). */
  callsFor(requestId: string): AuthCall[];
  close(): Promise<void>;
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

export async function startAuthService(): Promise<FakeAuthService> {
  const calls: AuthCall[] = [];
  const hanging: ServerResponse[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      calls.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
      const [kind, user = 'anon', ...scopes] = token.split('-');
      switch (kind) {
        case 'allow':
          return answer(res, 200, { user_id: user, client_id: 'svc-client', username: `${user}-name`, enterprise_id: 'ent-1', roles: ['user'], workspaces: ['ws-1'], scopes });
        case 'html':
          res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Down for maintenance</body></html>');
          return;
        case 'plain':
          res.writeHead(200, { 'content-type': 'text/plain' }).end('OK');
          return;
        case 'empty':
          res.writeHead(204).end();
          return;
        case 'nostore':
          res.setHeader('cache-control', 'no-store');
          return answer(res, 200, { user_id: user, roles: ['user'] });
        case 'camel':
          return answer(res, 200, { userId: user, clientId: 'camel-client', username: user, enterpriseId: 'ent-2', roles: ['user', 'ops'] });
        case 'admin':
          return answer(res, 200, { user_id: user, roles: ['admin'] });
        case 'deny':
          return answer(res, 401, { message: 'token revoked at db row 42' });
        case 'forbid':
          return answer(res, 403, { message: 'no' });
        case 'fail':
          return answer(res, 500, { error: 'stack trace: at AuthService.verify (/srv/auth.py:12)' });
        case 'status':
          return answer(res, Number(user), { error: `status ${user}` });
        case 'hang':
          hanging.push(res);
          return;
        case 'trickle': {
          hanging.push(res);
          res.writeHead(200, { 'content-type': 'application/json' });
          res.write('{"user_id":"slow"');
          let n = 0;
          const timer = setInterval(() => {
            if (++n >= 100 || res.destroyed) {
              clearInterval(timer);
              if (!res.destroyed) res.end('}');
              return;
            }
            res.write(' ');
          }, 200);
          res.on('close', () => clearInterval(timer));
          return;
        }
        default:
          return answer(res, 401, {});
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth/verify`,
    calls,
    callsFor: (id) => calls.filter((c) => c.headers['x-request-id'] === id),
    close: () =>
      new Promise<void>((r) => {
        for (const h of hanging) h.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
