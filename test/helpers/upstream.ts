import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  rawHeaders: string[];
  body: string;
}

export interface TestUpstream {
  url: string;
  port: number;
  server: Server;
  /** Requests received, oldest first. */
  seen: SeenRequest[];
  /** Connections accepted (to count retries). */
  connections: number;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void | Promise<void>;

/**
 * A scriptable upstream for proxy tests. Default behaviour by path:
 *   /sse?events=N&delay=MS   text/event-stream, one event every MS ms
 *   /slow?ms=MS              answers after MS ms
 *   /status/CODE             answers CODE
 *   anything else            200 JSON echo of method, url, headers and body
 */
export async function startUpstream(handler?: Handler): Promise<TestUpstream> {
  const seen: SeenRequest[] = [];
  const state = { connections: 0 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body });
      void (handler ?? defaultHandler)(req, res, body);
    });
  });
  server.maxHeadersCount = 0; // sees every header the gateway forwards (Node keeps 1,000 by default)
  server.on('connection', () => state.connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    seen,
    get connections() {
      return state.connections;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export const defaultHandler: Handler = async (req, res, body) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const status = /^\/status\/(\d{3})/.exec(url.pathname);
  if (status) {
    res.writeHead(Number(status[1]), { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: Number(status[1]) }));
    return;
  }
  if (url.pathname.endsWith('/sse')) {
    const events = Number(url.searchParams.get('events') ?? 3);
    const delay = Number(url.searchParams.get('delay') ?? 100);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    for (let i = 0; i < events; i++) {
      res.write(`data: {"n":${i}}\n\n`);
      await new Promise((r) => setTimeout(r, delay));
    }
    res.end('data: [DONE]\n\n');
    return;
  }
  if (url.pathname.endsWith('/slow')) {
    await new Promise((r) => setTimeout(r, Number(url.searchParams.get('ms') ?? 1000)));
  }
  const text = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body });
  res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'yes', connection: 'keep-alive', 'keep-alive': 'timeout=5' });
  res.end(text);
};
