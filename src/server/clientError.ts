import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { discardingBody } from '../proxy/requestBody.js';

/** A request the HTTP parser refused, as answered: what its audit record and metrics get. */
export interface ParserRefusal {
  id: string;
  status: number;
  /** Method and path from the request line, when the refused bytes begin with one; else ''. */
  method: string;
  path: string;
  /** Audit `error`: what was wrong, without any of the request's bytes. */
  error: string;
  /** Bytes of the JSON body sent. */
  bytesOut: number;
}

/** `METHOD /path HTTP/1.x`: the start of a request line (the path up to `?`, `#` or a space). */
const REQUEST_LINE = /^([A-Z]{1,20}) (\/[^\s?#]{0,4096})[^\s]* HTTP\/1\.[01]\r?\n/;

/**
 * Malformed requests the HTTP parser refuses before any handler runs: an oversized header
 * block (431), a slow or broken client (timeout → just close), anything else (400). Answered
 * with the same JSON error shape as the rest of the gateway, with a request id (X-Request-ID and
 * the body) that the operational log line carries too. Returns what was answered, so the
 * caller can give it an audit record and metrics (ProxyHandler.logRefusal); null when the
 * connection was only closed.
 */
export function sendClientError(err: NodeJS.ErrnoException & { rawPacket?: unknown; library?: unknown }, socket: Socket, logger?: Logger): ParserRefusal | null {
  // A TLS handshake that failed or timed out (the HTTPS server reports those here too) has no
  // channel to answer on, and is no request: the connection just closes.
  if (!socket.writable || err.code === 'ECONNRESET' || isTlsFailure(err)) {
    socket.destroy();
    return null;
  }
  // A pipelined request that fails to parse while an earlier one on this connection is still
  // being answered: writing a 400 now would land inside that response (or answer it). Close
  // the connection, as Node's default handler does once a response is under way.
  if ((socket as Socket & { _httpMessage?: unknown })._httpMessage != null) {
    socket.destroy();
    return null;
  }
  // The client hung up while the rest of an answered request's body was being read: that
  // request has its answer and its record; there is nothing more to answer.
  if (err.code === 'HPE_INVALID_EOF_STATE' && discardingBody(socket)) {
    socket.destroy();
    return null;
  }
  let status = 400;
  let message = 'Bad request';
  let error = `malformed request (${err.code ?? 'parse error'})`;
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    status = 431;
    message = 'Request header fields too large';
    error = 'request header fields too large';
  } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'HPE_HEADERS_TIMEOUT') {
    socket.destroy();
    return null;
  }
  const id = randomUUID();
  logger?.info({ request_id: id, status, code: err.code, ip: socket.remoteAddress }, 'request refused by the HTTP parser');
  const body = JSON.stringify({ message, request_id: id });
  const reason = status === 431 ? 'Request Header Fields Too Large' : 'Bad Request';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nX-Request-ID: ${id}\r\nConnection: close\r\n\r\n${body}`,
  );
  // The parser hands over the chunk it failed on: the request line only when it is in there.
  const raw = Buffer.isBuffer(err.rawPacket) ? err.rawPacket.toString('latin1', 0, 4200) : '';
  const line = REQUEST_LINE.exec(raw);
  return { id, status, method: line?.[1] ?? '', path: line?.[2] ?? '', error, bytesOut: Buffer.byteLength(body) };
}

/** ERR_TLS_HANDSHAKE_TIMEOUT, ERR_SSL_… and any other OpenSSL error (those carry `library`). */
function isTlsFailure(err: NodeJS.ErrnoException & { library?: unknown }): boolean {
  const code = err.code ?? '';
  return code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_') || err.library !== undefined;
}
