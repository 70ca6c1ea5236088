import { isIP } from 'node:net';

export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * Parses a listen setting: `host:port`, `[v6]:port`, a bare port, or `off` (→ null).
 * Port 0 asks the OS for an ephemeral port. Throws with a readable message when malformed.
 */
export function parseListen(value: string, defaultHost = '0.0.0.0'): ListenAddress | null {
  const v = value.trim();
  if (v === 'off') return null;
  let host = defaultHost;
  let port: string;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(v);
  if (v6) {
    host = v6[1]!;
    port = v6[2]!;
  } else if (/^\d+$/.test(v)) {
    port = v;
  } else {
    const i = v.lastIndexOf(':');
    if (i <= 0) throw new Error(`expected host:port, a port, or "off", got "${value}"`);
    host = v.slice(0, i);
    port = v.slice(i + 1);
  }
  const n = Number(port);
  if (!/^\d+$/.test(port) || n > 65535) throw new Error(`invalid port in "${value}"`);
  return { host, port: n };
}

/** True when a listen setting binds only loopback (or is off). */
export function isLoopbackListen(value: string): boolean {
  let addr: ListenAddress | null;
  try {
    addr = parseListen(value, '127.0.0.1');
  } catch {
    return false;
  }
  if (addr === null) return true;
  const h = addr.host;
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1';
}
