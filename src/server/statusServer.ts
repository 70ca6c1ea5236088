import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { StatusReport } from './statusReport.js';

export interface StatusSource {
  registry: Registry;
  report(): Promise<StatusReport>;
  /** Config loaded and every configured dependency answering. */
  ready(): Promise<{ ready: boolean; reasons: string[] }>;
  /** Called before /metrics renders (gauges that are sampled, not pushed). */
  beforeScrape?(): Promise<void>;
}

/**
 * The status listener (SPEC §9): /metrics (Prometheus text), /status (JSON), /health/live
 * (200 while the process runs) and /health/ready (200 only when ready, else 503). Plain
 * node:http: four fixed routes need no framework.
 */
export function createStatusServer(source: StatusSource): Server {
  return createServer((req, res) => {
    handle(source, req, res).catch(() => {
      if (!res.headersSent) json(res, 500, { message: 'An unexpected error occurred' });
      else res.destroy();
    });
  });
}

async function handle(source: StatusSource, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { message: 'Method not allowed' });
  switch (path) {
    case '/metrics': {
      await source.beforeScrape?.();
      const body = await source.registry.metrics();
      res.writeHead(200, { 'content-type': source.registry.contentType, 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    case '/status':
      return json(res, 200, await source.report());
    case '/health/live':
      return json(res, 200, { status: 'live' });
    case '/health/ready': {
      const r = await source.ready();
      return json(res, r.ready ? 200 : 503, r.ready ? { status: 'ready' } : { status: 'not ready', reasons: r.reasons });
    }
    default:
      return json(res, 404, { message: 'Not found' });
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}
