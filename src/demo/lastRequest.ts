import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from './demoHttp.js';

/** What a demo upstream received: tests read it to check what the gateway sent upstream. */
export interface RecordedRequest {
  method: string;
  /** Path with query string, as received. */
  path: string;
  /** Headers as Node gives them (lower-case names). */
  headers: IncomingMessage['headers'];
  /** The body parsed as JSON, else its text, else null. */
  body: unknown;
}

const KEEP_RECENT = 50;

/**
 * The requests one demo server received, served at `GET /debug/last-request` (the latest,
 * 404 before any) and `GET /debug/requests` (`{ total, recent }`, the last 50, oldest first);
 * `DELETE /debug/requests` forgets them. `/debug/*` calls are not recorded.
 */
export class RequestLog {
  private recent: RecordedRequest[] = [];
  private total = 0;

  record(req: IncomingMessage, body: unknown): void {
    this.total++;
    this.recent.push({ method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body });
    if (this.recent.length > KEEP_RECENT) this.recent.shift();
  }

  /** Answers a `/debug/…` request; false when the path is not one of them. */
  handleDebug(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    if (path === '/debug/last-request' && req.method === 'GET') {
      const last = this.recent.at(-1);
      if (last === undefined) sendJson(res, 404, { message: 'no request received yet' });
      else sendJson(res, 200, last);
      return true;
    }
    if (path === '/debug/requests' && req.method === 'GET') {
      sendJson(res, 200, { total: this.total, recent: this.recent });
      return true;
    }
    if (path === '/debug/requests' && req.method === 'DELETE') {
      this.recent = [];
      this.total = 0;
      sendJson(res, 200, { total: 0, recent: [] });
      return true;
    }
    return false;
  }
}
