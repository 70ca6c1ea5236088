import type { Socket } from 'node:net';

/**
 * Malformed requests the HTTP parser refuses before any handler runs: an oversized header
 * block (431), a slow or broken client (timeout → just close), anything else (400). Answered
 * with the same JSON error shape as the rest of the gateway.
 */
export function sendClientError(err: NodeJS.ErrnoException, socket: Socket): void {
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
  const body = JSON.stringify({ message, request_id: null });
  const reason = status === 431 ? 'Request Header Fields Too Large' : 'Bad Request';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
