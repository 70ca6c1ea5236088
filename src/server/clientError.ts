import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';

/**
 * Malformed requests the HTTP parser refuses before any handler runs: an oversized header
 * block (431), a slow or broken client (timeout → just close), anything else (400). Answered
 * with the same JSON error shape as the rest of the gateway, with a request id (X-Request-ID and
 * the body) that the operational log line carries too: no request context exists yet, so no
 * plugin, and no audit record, sees these.
 */
export function sendClientError(err: NodeJS.ErrnoException, socket: Socket, logger?: Logger): void {
  if (!socket.writable || err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  let status = 400;
  let message = 'Bad request';
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    status = 431;
    message = 'Request header fields too large';
  } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'HPE_HEADERS_TIMEOUT') {
    socket.destroy();
    return;
  }
  const id = randomUUID();
  logger?.info({ request_id: id, status, code: err.code, ip: socket.remoteAddress }, 'request refused by the HTTP parser');
  const body = JSON.stringify({ message, request_id: id });
  const reason = status === 431 ? 'Request Header Fields Too Large' : 'Bad Request';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nX-Request-ID: ${id}\r\nConnection: close\r\n\r\n${body}`,
  );
}
