import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { writeThrough, type AdminContext } from './context.js';
import { AdminError, notFound, parseBody, readOnly, seconds } from './errors.js';
import { DuplicateEntityError, ReferenceNotFoundError, type Consumer, type JwtSecret } from '../store/types.js';
import { jwtSecretEntry } from '../config/schema.js';
import { checkCredentialKey } from '../plugins/jwt/keyMaterial.js';
import { revokeClient } from '../oauth/revoke.js';
import { activeRevocationFeed } from '../oauth/shared.js';

/**
 * Admin API `/consumers` and `/consumers/{consumer}/jwt` (SPEC §10), Kong's shapes: lists are
 * `{data, next}`, times are seconds. `{consumer}` is an id or a username. Bodies are JSON or
 * form-urlencoded (`tags[]=a`); unknown fields are refused (400 with `fields`), a taken
 * username/custom_id/key is 409, an unknown consumer or credential 404. Entities declared in
 * the config file (`source: config`) are read-only here: the file is their source of truth.
 * Every write tells this replica's caches (`entitiesChanged`).
 */

const text = z.string().min(1, 'must not be empty').max(255);
/** Form bodies send one tag as a plain string. */
const tags = z.preprocess((v) => (typeof v === 'string' ? [v] : v), z.array(z.string().min(1)).max(100));

const consumerInput = z
  .strictObject({ id: z.uuid().optional(), username: text.optional(), custom_id: text.optional(), tags: tags.optional() })
  .refine((c) => c.username !== undefined || c.custom_id !== undefined, { message: 'a consumer needs username or custom_id', path: ['username'] });

const consumerPatch = z.strictObject({ username: text.nullable().optional(), custom_id: text.nullable().optional(), tags: tags.optional() });

const jwtInput = z.strictObject({
  id: z.uuid().optional(),
  key: text.optional(),
  algorithm: jwtSecretEntry.shape.algorithm.unwrap().optional(),
  rsa_public_key: z.string().min(1).max(16_384).optional(),
  secret: z.string().min(1).max(1024).optional(),
  tags: tags.optional(),
});

interface ConsumerParams {
  consumer: string;
}
interface JwtParams extends ConsumerParams {
  jwt: string;
}
interface ListQuery {
  size?: string;
  offset?: string;
}

export function consumerView(c: Consumer): Record<string, unknown> {
  return { id: c.id, username: c.username, custom_id: c.custom_id, tags: c.tags, source: c.source, created_at: seconds(c.created_at) };
}

function jwtView(s: JwtSecret): Record<string, unknown> {
  return {
    id: s.id,
    consumer: { id: s.consumer_id },
    key: s.key,
    algorithm: s.algorithm,
    rsa_public_key: s.rsa_public_key,
    secret: s.secret,
    tags: s.tags,
    source: s.source,
    created_at: seconds(s.created_at),
  };
}

function page(query: ListQuery, path: string): { offset: number; size: number; next: (n: number) => string | null } {
  const size = query.size === undefined ? 100 : Number(query.size);
  const offset = query.offset === undefined ? 0 : Number(query.offset);
  if (!Number.isInteger(size) || size < 1 || size > 1000) throw new AdminError(400, 'schema violation', { size: 'expected an integer from 1 to 1000' });
  if (!Number.isSafeInteger(offset) || offset < 0 || offset > 2 ** 31 - 1) throw new AdminError(400, 'schema violation', { offset: 'expected the offset given by `next`' });
  return { offset, size, next: (n) => (n < size ? null : `${path}?offset=${offset + size}&size=${size}`) };
}


async function findConsumer(ctx: AdminContext, idOrName: string): Promise<Consumer> {
  const c = await ctx.store.consumers.get(idOrName);
  if (c === null) throw notFound('consumer');
  return c;
}

async function findJwt(ctx: AdminContext, consumer: Consumer, idOrKey: string): Promise<JwtSecret> {
  const byId = z.uuid().safeParse(idOrKey).success ? await ctx.store.jwtSecrets.get(idOrKey) : null;
  const s = byId ?? (await ctx.store.jwtSecrets.getByKey(idOrKey));
  if (s === null || s.consumer_id !== consumer.id) throw notFound('jwt credential');
  return s;
}

/** A write, then every cache on this replica forgets what it knew (writeThrough). */
async function write<T>(ctx: AdminContext, fn: () => Promise<T>): Promise<T> {
  try {
    return await writeThrough(ctx, fn);
  } catch (err) {
    if (err instanceof ReferenceNotFoundError) throw notFound('consumer');
    throw err;
  }
}

function registerConsumerRoutes(app: FastifyInstance, ctx: AdminContext): void {
  app.get<{ Querystring: ListQuery }>('/consumers', async (req) => {
    const p = page(req.query, '/consumers');
    const rows = await ctx.store.consumers.list({ offset: p.offset, limit: p.size });
    return { data: rows.map(consumerView), next: p.next(rows.length) };
  });

  app.post('/consumers', async (req, reply) => {
    const input = parseBody(consumerInput, req.body);
    const c = await write(ctx, () => ctx.store.consumers.create({ id: input.id, username: input.username ?? null, custom_id: input.custom_id ?? null, tags: input.tags ?? [], source: 'admin' }));
    return reply.code(201).send(consumerView(c));
  });

  app.get<{ Params: ConsumerParams }>('/consumers/:consumer', async (req) => consumerView(await findConsumer(ctx, req.params.consumer)));

  app.patch<{ Params: ConsumerParams }>('/consumers/:consumer', async (req) => {
    const patch = parseBody(consumerPatch, req.body);
    const c = await findConsumer(ctx, req.params.consumer);
    if (c.source === 'config') throw readOnly('consumer', req.params.consumer);
    const username = patch.username === undefined ? c.username : patch.username;
    const customId = patch.custom_id === undefined ? c.custom_id : patch.custom_id;
    if (username === null && customId === null) throw new AdminError(400, 'schema violation', { username: 'a consumer needs username or custom_id' });
    const updated = await write(ctx, () => ctx.store.consumers.update(c.id, { username, custom_id: customId, ...(patch.tags ? { tags: patch.tags } : {}) }));
    if (updated === null) throw notFound('consumer');
    return consumerView(updated);
  });

  app.put<{ Params: ConsumerParams }>('/consumers/:consumer', async (req, reply) => {
    const body = parseBody(consumerPatch, req.body);
    const isId = z.uuid().safeParse(req.params.consumer).success;
    const username = body.username ?? (isId ? null : req.params.consumer);
    const customId = body.custom_id ?? null;
    if (username === null && customId === null) throw new AdminError(400, 'schema violation', { username: 'a consumer needs username or custom_id' });
    const replace = async (existing: Consumer) => {
      if (existing.source === 'config') throw readOnly('consumer', req.params.consumer);
      const updated = await write(ctx, () => ctx.store.consumers.update(existing.id, { username, custom_id: customId, tags: body.tags ?? [] }));
      return consumerView(updated ?? existing);
    };
    const existing = await ctx.store.consumers.get(req.params.consumer);
    if (existing !== null) return replace(existing);
    try {
      const c = await write(ctx, () => ctx.store.consumers.create({ ...(isId ? { id: req.params.consumer } : {}), username, custom_id: customId, tags: body.tags ?? [], source: 'admin' }));
      return reply.code(201).send(consumerView(c));
    } catch (err) {
      // Another PUT of the same consumer (this replica or another) created it first: PUT is
      // idempotent, so this one replaces it, as if it had come second.
      const created = err instanceof DuplicateEntityError ? await ctx.store.consumers.get(req.params.consumer) : null;
      if (created === null) throw err;
      return replace(created);
    }
  });

  app.delete<{ Params: ConsumerParams }>('/consumers/:consumer', async (req, reply) => {
    const c = await findConsumer(ctx, req.params.consumer);
    if (c.source === 'config') throw readOnly('consumer', req.params.consumer);
    // Its OAuth clients go with it: revoke their tokens first, so every replica refuses them
    // at once (through the revocation feed), not only after its credential cache expires.
    for (const client of await ctx.store.oauth2Credentials.listByConsumer(c.id)) {
      await revokeClient(ctx.store, activeRevocationFeed(), client.id);
    }
    await write(ctx, () => ctx.store.consumers.delete(c.id));
    return reply.code(204).send();
  });
}

function registerJwtRoutes(app: FastifyInstance, ctx: AdminContext): void {
  app.get<{ Params: ConsumerParams; Querystring: ListQuery }>('/consumers/:consumer/jwt', async (req) => {
    const c = await findConsumer(ctx, req.params.consumer);
    const p = page(req.query, `/consumers/${encodeURIComponent(req.params.consumer)}/jwt`);
    const rows = (await ctx.store.jwtSecrets.listByConsumer(c.id)).slice(p.offset, p.offset + p.size);
    return { data: rows.map(jwtView), next: p.next(rows.length) };
  });

  app.post<{ Params: ConsumerParams }>('/consumers/:consumer/jwt', async (req, reply) => {
    const input = parseBody(jwtInput, req.body);
    const c = await findConsumer(ctx, req.params.consumer);
    const algorithm = input.algorithm ?? 'HS256';
    const problems = checkCredentialKey(algorithm, input.rsa_public_key, input.secret);
    if (Object.keys(problems).length > 0) throw new AdminError(400, 'schema violation', problems);
    const s = await write(ctx, () =>
      ctx.store.jwtSecrets.create({
        id: input.id,
        consumer_id: c.id,
        key: input.key ?? randomBytes(16).toString('hex'),
        algorithm,
        rsa_public_key: input.rsa_public_key ?? null,
        secret: algorithm.startsWith('HS') ? (input.secret ?? randomBytes(32).toString('base64url')) : null,
        tags: input.tags ?? [],
        source: 'admin',
      }),
    );
    return reply.code(201).send(jwtView(s));
  });

  app.get<{ Params: JwtParams }>('/consumers/:consumer/jwt/:jwt', async (req) => {
    const c = await findConsumer(ctx, req.params.consumer);
    return jwtView(await findJwt(ctx, c, req.params.jwt));
  });

  app.delete<{ Params: JwtParams }>('/consumers/:consumer/jwt/:jwt', async (req, reply) => {
    const c = await findConsumer(ctx, req.params.consumer);
    const s = await findJwt(ctx, c, req.params.jwt);
    if (s.source === 'config') throw readOnly('jwt credential', req.params.jwt);
    await write(ctx, () => ctx.store.jwtSecrets.delete(s.id));
    return reply.code(204).send();
  });
}

/** Registered in ADMIN_ROUTES (src/admin/routes.ts). */
export function consumerRoutes(app: FastifyInstance, ctx: AdminContext): void {
  registerConsumerRoutes(app, ctx);
  registerJwtRoutes(app, ctx);
}
