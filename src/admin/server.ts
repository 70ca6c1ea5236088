import Fastify, { type FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import { timingSafeEqual, createHash } from 'node:crypto';
import { parse as parseQs } from 'node:querystring';
import type { AdminContext } from './context.js';
import { AdminError } from './errors.js';
import { DuplicateEntityError, StoreUnavailableError } from '../store/types.js';
import { ADMIN_ROUTES } from './routes.js';

/**
 * The Admin API (SPEC §10) on its own listener, loopback by default. With `admin_token` set,
 * every call needs `Authorization: Bearer <token>` or `Kong-Admin-Token: <token>`, compared in
 * constant time. Bodies are JSON or form-urlencoded (`redirect_uris[]=…` as in Kong).
 */
export async function buildAdminServer(ctx: AdminContext, token: () => string | undefined): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 8 * 1024 * 1024 });
  await app.register(formbody, { parser: (body) => formToObject(body) });

  app.addHook('onRequest', async (req, reply) => {
    const expected = token();
    if (expected === undefined || expected === '') return;
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
    const status = (err as { statusCode?: number }).statusCode;
    if (status !== undefined && status < 500) return reply.code(status).send({ message: (err as Error).message });
    ctx.logger.error({ err }, 'admin API error');
    return reply.code(500).send({ message: 'An unexpected error occurred' });
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

function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/** `a=1&redirect_uris[]=x&redirect_uris[]=y` → `{ a: '1', redirect_uris: ['x', 'y'] }` (Kong's form arrays). */
export function formToObject(body: string): Record<string, unknown> {
  const parsed = parseQs(body);
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
