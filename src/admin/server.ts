import Fastify, { type FastifyInstance } from 'fastify';
import { timingSafeEqual, createHash } from 'node:crypto';
import { parse as parseQs } from 'node:querystring';
import type { AdminContext } from './context.js';
import { AdminError, nulField, nulRefusal, textParser, utf8Text } from './errors.js';
import { DuplicateEntityError, StoreUnavailableError, UnstorableTextError } from '../store/types.js';
import { ADMIN_ROUTES } from './routes.js';

/**
 * The Admin API (SPEC §10) on its own listener, loopback by default. With `admin_token` set,
 * every call needs `Authorization: Bearer <token>` or `Kong-Admin-Token: <token>`, compared in
 * constant time. Bodies are JSON or form-urlencoded (`redirect_uris[]=…` as in Kong). Without a
 * token, browser requests from other sites and non-loopback Host names get 403 (browserRefusal).
 */
export async function buildAdminServer(ctx: AdminContext, token: () => string | undefined): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 8 * 1024 * 1024 });
  // Bodies are read as bytes and refused (400) unless they are UTF-8: decoding them as strings
  // would turn every invalid byte into U+FFFD, and store a secret or a name nobody sent.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    let text: string;
    try {
      text = utf8Text(body as Buffer);
    } catch (err) {
      done(err as Error, undefined);
      return;
    }
    json(req, text, done);
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer' }, textParser(formToObject));
  app.addContentTypeParser('text/plain', { parseAs: 'buffer' }, textParser((text) => text));

  app.addHook('onRequest', async (req, reply) => {
    const expected = token();
    if (expected === undefined || expected === '') {
      const refusal = browserRefusal(req.headers);
      if (refusal !== null) await reply.code(403).send({ message: refusal });
      return;
    }
    const auth = req.headers.authorization;
    const given = typeof auth === 'string' && /^bearer /i.test(auth) ? auth.slice(7).trim() : req.headers['kong-admin-token'];
    if (typeof given !== 'string' || !safeEqual(given, expected)) {
      await reply.code(401).header('www-authenticate', 'Bearer realm="tollgate-admin"').send({ message: 'Unauthorized: a valid admin token is required (Authorization: Bearer or Kong-Admin-Token)' });
    }
  });

  app.setErrorHandler(async (err, _req, reply) => {
    if (err instanceof AdminError) return reply.code(err.status).send(err.fields ? { message: err.message, fields: err.fields } : { message: err.message });
    if (err instanceof DuplicateEntityError) {
      return reply.code(409).send({ message: `UNIQUE violation detected on '{${err.field}="${err.value}"}'`, fields: { [err.field]: `already exists with value '${err.value}'` } });
    }
    if (err instanceof StoreUnavailableError) return reply.code(503).send({ message: 'the store (database) is unreachable' });
    if (err instanceof UnstorableTextError) return reply.code(400).send({ message: err.message });
    const status = (err as { statusCode?: number }).statusCode;
    if (status !== undefined && status < 500) return reply.code(status).send({ message: (err as Error).message });
    ctx.logger.error({ err }, 'admin API error');
    return reply.code(500).send({ message: 'An unexpected error occurred' });
  });
  // No text the store could keep holds a NUL (PostgreSQL's text cannot): one 400 naming the
  // field, the same on both backends, before any route reads or writes it.
  app.addHook('preHandler', async (req) => {
    const where = nulField(req.params, 'path') ?? nulField(req.query, 'query') ?? nulField(req.body, '');
    if (where !== null) throw nulRefusal(where);
  });
  app.setNotFoundHandler(async (_req, reply) => reply.code(404).send({ message: 'Not found' }));

  app.get('/', async () => ({
    tagline: 'Welcome to tollgate',
    version: ctx.version,
    hostname: (await import('node:os')).hostname(),
    plugins: { enabled_in_cluster: [...new Set(ctx.runtime().instances.map((i) => i.name))].sort() },
  }));
  app.get('/status', async () => ctx.status());
  for (const register of ADMIN_ROUTES) await register(app, ctx);
  return app;
}

/** `localhost`, `*.localhost`, 127.0.0.0/8 and ::1, with or without a port. */
const LOOPBACK_HOST = /^(?:localhost|[a-z0-9.-]+\.localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d{1,5})?$/i;

/**
 * Without `admin_token`, the Admin API trusts whoever can reach its loopback address; a web
 * page in the operator's browser can reach it too. Refused (403), with the reason:
 * - a Host that is not a loopback name: DNS rebinding (a page on `evil.example` whose name
 *   now resolves to 127.0.0.1 would otherwise read `GET /config` and its secrets);
 * - an `Origin` other than the Admin API's own, or `Sec-Fetch-Site: cross-site | same-site`:
 *   a cross-site request (a form or `text/plain` POST needs no CORS preflight, so it would
 *   otherwise import consumers with the page's keys).
 * curl, kubectl port-forward and scripts send neither and are unaffected. With a token set,
 * the token protects every call and none of this applies.
 */
export function browserRefusal(headers: Record<string, string | string[] | undefined>): string | null {
  const host = typeof headers.host === 'string' ? headers.host : '';
  const fix = 'set gateway.admin_token to call the Admin API from anywhere else';
  if (!LOOPBACK_HOST.test(host)) return `Forbidden: without an admin token the Admin API answers only loopback host names (Host: ${host.slice(0, 100) || '(none)'}); ${fix}`;
  const site = headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') return `Forbidden: a cross-site browser request (Sec-Fetch-Site: ${site}); ${fix}`;
  const origin = headers.origin;
  if (origin !== undefined && !(typeof origin === 'string' && sameAuthority(origin, host))) {
    return `Forbidden: a browser request from another origin (Origin: ${String(origin).slice(0, 100)}); ${fix}`;
  }
  return null;
}

function sameAuthority(origin: string, host: string): boolean {
  try {
    const u = new URL(origin);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.host.toLowerCase() === host.toLowerCase();
  } catch {
    return false;
  }
}

function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/** `a=1&redirect_uris[]=x&redirect_uris[]=y` → `{ a: '1', redirect_uris: ['x', 'y'] }` (Kong's form arrays). */
export function formToObject(body: string): Record<string, unknown> {
  let malformed: string | null = null;
  const parsed = parseQs(body, '&', '=', {
    // querystring would decode a malformed escape (`%FF`, a lone `%E2%82`) to U+FFFD.
    decodeURIComponent: (s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        malformed ??= s;
        return s;
      }
    },
  });
  if (malformed !== null) {
    throw new AdminError(400, `the form body has an escape that is not UTF-8 in '${(malformed as string).slice(0, 100)}'; percent-encode UTF-8 bytes`);
  }
  const out: Record<string, unknown> = {};
  for (const [rawKey, value] of Object.entries(parsed)) {
    if (value === undefined) continue;
    const arrayKey = /^(.+)\[\d*\]$/.exec(rawKey);
    if (arrayKey) {
      const key = arrayKey[1]!;
      const list = (out[key] as string[] | undefined) ?? [];
      out[key] = list.concat(value);
    } else {
      out[rawKey] = value;
    }
  }
  return out;
}
