import { isUtf8 } from 'node:buffer';
import type { z } from 'zod';
import { formatPath } from '../config/load.js';

/** An Admin API error: `{ message, fields? }` with a status (SPEC §10). */
export class AdminError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly fields?: Record<string, string>,
  ) {
    super(message);
    this.name = 'AdminError';
  }
}

/** The 409 for a write to an entity declared in the config file (read-only through the API). */
export function readOnly(kind: string, name: string): AdminError {
  return new AdminError(409, `${kind} '${name}' is declared in the config file; change it there (then reload)`);
}

export function notFound(what: string): AdminError {
  return new AdminError(404, `${what} not found`);
}

/** A 400 whose `fields` map each bad path (`redirect_uris[0]`) to its problem. */
export function validationError(error: z.ZodError): AdminError {
  const fields: Record<string, string> = {};
  for (const issue of error.issues) {
    const path = formatPath(issue.path) || '@entity';
    if (fields[path] !== undefined) continue;
    fields[path] = issue.code === 'unrecognized_keys' ? `unknown field${issue.keys.length > 1 ? 's' : ''}: ${issue.keys.join(', ')}` : issue.message;
  }
  return new AdminError(400, 'schema violation', fields);
}

/** Parses a body with a zod schema or throws the 400 validation error. */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body ?? {});
  if (!r.success) throw validationError(r.error);
  return r.data;
}

/** Admin API timestamps are Unix seconds, as Kong's (the store keeps milliseconds). */
export function seconds(ms: number): number;
export function seconds(ms: number | null): number | null;
export function seconds(ms: number | null): number | null {
  return ms === null ? null : Math.floor(ms / 1000);
}

/** The path (`consumers[0].username`) of the first string holding a NUL in a parsed body, or null. */
export function nulField(value: unknown, path: string, depth = 0): string | null {
  if (typeof value === 'string') return value.includes('\0') ? path : null;
  if (value === null || typeof value !== 'object' || depth > 64) return null;
  for (const [k, v] of Object.entries(value)) {
    const at = nulField(v, Array.isArray(value) ? `${path}[${k}]` : path ? `${path}.${k}` : k, depth + 1);
    if (at !== null) return at;
  }
  return null;
}

/** The 400 for a NUL where `nulField` found it. */
export function nulRefusal(where: string): AdminError {
  return new AdminError(400, 'schema violation', { [where || '@entity']: 'must not contain a NUL character (\\u0000)' });
}

/**
 * A body's bytes as text; a 400 naming the first byte that is not UTF-8 otherwise (decoding
 * would replace it with U+FFFD and store text nobody sent).
 */
export function utf8Text(body: Buffer): string {
  const text = body.toString('utf8');
  if (isUtf8(body)) return text;
  const reencoded = Buffer.from(text, 'utf8');
  let at = 0;
  while (at < body.length && body[at] === reencoded[at]) at++;
  throw new AdminError(400, `the body is not valid UTF-8 (at byte offset ${at}); send it encoded as UTF-8`);
}

/** A body parser: the body as UTF-8 text (400 otherwise), then `parse`, whose AdminError is a 400 too. */
export function textParser(parse: (text: string) => unknown): (req: unknown, body: string | Buffer, done: (err: Error | null, body?: unknown) => void) => void {
  return (_req, body, done) => {
    let value: unknown;
    try {
      value = parse(utf8Text(body as Buffer));
    } catch (err) {
      done(err as Error, undefined);
      return;
    }
    done(null, value);
  };
}
