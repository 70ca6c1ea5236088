import type { IncomingMessage } from 'node:http';

/**
 * Test knobs, read from request headers (documented in src/demo/README.md):
 * - `x-demo-delay-ms: N`   wait N ms before the JSON answer / before each SSE event
 * - `x-demo-omit-usage: 1` never report usage (JSON or stream)
 * - `x-demo-status: N`     answer with status N (400–599) and the API's error body
 * - `x-demo-model: NAME`   report this model instead of the request's
 * - `x-demo-reply: TEXT`   generate this text instead of the default reply
 */
export interface DemoKnobs {
  delayMs: number;
  omitUsage: boolean;
  status: number | null;
  model: string | null;
  reply: string | null;
}

const MAX_DELAY_MS = 120_000;

function header(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  if (Array.isArray(value)) return value[0] ?? null;
  return value ?? null;
}

export function readKnobs(req: IncomingMessage): DemoKnobs {
  const delay = Number(header(req, 'x-demo-delay-ms') ?? 0);
  const status = Number(header(req, 'x-demo-status'));
  const omit = (header(req, 'x-demo-omit-usage') ?? '').trim().toLowerCase();
  return {
    delayMs: Number.isFinite(delay) ? Math.min(Math.max(delay, 0), MAX_DELAY_MS) : 0,
    omitUsage: omit === '1' || omit === 'true' || omit === 'yes',
    status: Number.isInteger(status) && status >= 400 && status <= 599 ? status : null,
    model: header(req, 'x-demo-model'),
    reply: header(req, 'x-demo-reply'),
  };
}
