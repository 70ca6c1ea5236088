import { request, Agent } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import type { GatewayProcess } from './gateway.js';
import { waitFor } from './ports.js';

/** Helpers for the rate-limit and token-budget suites. */

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A keep-alive agent with room for bursts of concurrent requests. */
export const burstAgent = new Agent({ connections: 256, pipelining: 0 });

export async function send(url: string, opts: { method?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<Reply> {
  const hasBody = opts.body !== undefined;
  const res = await request(url, {
    method: (opts.method ?? (hasBody ? 'POST' : 'GET')) as 'GET',
    headers: { ...(hasBody ? { 'content-type': 'application/json' } : {}), ...opts.headers },
    body: hasBody ? JSON.stringify(opts.body) : undefined,
    dispatcher: burstAgent,
  });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

export function header(r: Reply, name: string): string | undefined {
  const v = r.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

export function count(replies: Reply[], status: number): number {
  return replies.filter((r) => r.status === status).length;
}

/** Waits until /health/ready answers 200 (the Redis connection is up). */
export async function waitReady(gw: GatewayProcess): Promise<void> {
  await waitFor(async () => (await request(`${gw.statusUrl}/health/ready`)).statusCode === 200 || undefined, 'gateway ready');
}

/**
 * Windows are aligned to the epoch. A test that must stay inside one window (a burst in a
 * "fresh window") first lets the window edge pass when fewer than `needMs` are left in it.
 * This keeps the test about counting, not about the clock; it asserts nothing about time.
 */
export async function awayFromWindowEdge(windowMs: number, needMs: number): Promise<void> {
  const left = windowMs - (Date.now() % windowMs);
  if (left < needMs) await new Promise((r) => setTimeout(r, left + 100));
}

/** A short unique suffix, so tests sharing one Redis never share a counter. */
export function unique(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
}
