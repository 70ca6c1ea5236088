import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { writeThrough, type AdminContext } from './context.js';
import { AdminError, notFound, parseBody, seconds } from './errors.js';
import { hashSecret } from '../store/secretHash.js';
import { ReferenceNotFoundError, type Consumer, type OAuth2Credential } from '../store/types.js';
import { activeRevocationFeed } from '../oauth/shared.js';
import { revokeClient, revokeGrant } from '../oauth/revoke.js';
import { redirectUriSchema } from '../config/schema.js';

/**
 * Admin API `/consumers/{consumer}/oauth2` (OAuth 2.1 clients) and `/oauth2_tokens/{id}`
 * (SPEC §6, §10), in Kong's shapes: the seed's curl (form-urlencoded, `redirect_uris[]=…`)
 * works as is, JSON too. The client secret is hashed (scrypt) before it is stored and shown
 * once, in the creation response; a confidential client registered without one gets a
 * generated secret. Deleting a client first revokes every token it holds, on every replica.
 */

const text = z.string().min(1, 'must not be empty').max(255);
const list = <T extends z.ZodType>(item: T) => z.preprocess((v) => (typeof v === 'string' ? [v] : v), z.array(item));
const bool = z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());

const clientInput = z.strictObject({
  id: z.uuid().optional(),
  name: text,
  client_id: z.string().regex(/^[\x21-\x7E]{1,255}$/, 'printable characters without spaces, at most 255').optional(),
  client_secret: z.string().min(1, 'must not be empty').max(255).optional(),
  client_type: z.enum(['confidential', 'public']).default('confidential'),
  redirect_uris: list(redirectUriSchema).pipe(z.array(z.string()).min(1, 'register at least one redirect URI').max(32)),
  hash_secret: bool.optional(),
  tags: list(z.string().min(1)).pipe(z.array(z.string()).max(100)).optional(),
});

interface ConsumerParams {
  consumer: string;
}
interface ClientParams extends ConsumerParams {
  client: string;
}

function clientView(c: OAuth2Credential): Record<string, unknown> {
  return {
    id: c.id,
    consumer: { id: c.consumer_id },
    name: c.name,
    client_id: c.client_id,
    client_type: c.client_type,
    redirect_uris: c.redirect_uris,
    hash_secret: true,
    tags: c.tags,
    source: c.source,
    created_at: seconds(c.created_at),
  };
}

async function findConsumer(ctx: AdminContext, idOrName: string): Promise<Consumer> {
  const c = await ctx.store.consumers.get(idOrName);
  if (c === null) throw notFound('consumer');
  return c;
}

async function findClient(ctx: AdminContext, consumer: Consumer, idOrClientId: string): Promise<OAuth2Credential> {
  const byId = z.uuid().safeParse(idOrClientId).success ? await ctx.store.oauth2Credentials.get(idOrClientId) : null;
  const c = byId ?? (await ctx.store.oauth2Credentials.getByClientId(idOrClientId));
  if (c === null || c.consumer_id !== consumer.id) throw notFound('oauth2 credential');
  return c;
}

async function createClient(ctx: AdminContext, consumer: Consumer, body: unknown): Promise<Record<string, unknown>> {
  const input = parseBody(clientInput, body);
  if (input.client_type === 'public' && input.client_secret !== undefined) {
    throw new AdminError(400, 'schema violation', { client_secret: 'a public client has no secret (omit client_secret, or use client_type=confidential)' });
  }
  const secret = input.client_type === 'confidential' ? (input.client_secret ?? randomBytes(32).toString('base64url')) : null;
  const secretHash = secret === null ? null : await hashSecret(secret);
  try {
    const created = await writeThrough(ctx, () =>
      ctx.store.oauth2Credentials.create({
        id: input.id,
        consumer_id: consumer.id,
        name: input.name,
        client_id: input.client_id ?? randomBytes(24).toString('base64url'),
        client_secret_hash: secretHash,
        client_type: input.client_type,
        redirect_uris: input.redirect_uris,
        tags: input.tags ?? [],
        source: 'admin',
      }),
    );
    // The only time the secret is ever shown.
    return secret === null ? clientView(created) : { ...clientView(created), client_secret: secret };
  } catch (err) {
    if (err instanceof ReferenceNotFoundError) throw notFound('consumer');
    throw err;
  }
}

function registerClientRoutes(app: FastifyInstance, ctx: AdminContext): void {
  app.get<{ Params: ConsumerParams }>('/consumers/:consumer/oauth2', async (req) => {
    const c = await findConsumer(ctx, req.params.consumer);
    return { data: (await ctx.store.oauth2Credentials.listByConsumer(c.id)).map(clientView), next: null };
  });

  app.post<{ Params: ConsumerParams }>('/consumers/:consumer/oauth2', async (req, reply) => {
    const c = await findConsumer(ctx, req.params.consumer);
    return reply.code(201).send(await createClient(ctx, c, req.body));
  });

  app.get<{ Params: ClientParams }>('/consumers/:consumer/oauth2/:client', async (req) => {
    const c = await findConsumer(ctx, req.params.consumer);
    return clientView(await findClient(ctx, c, req.params.client));
  });

  app.delete<{ Params: ClientParams }>('/consumers/:consumer/oauth2/:client', async (req, reply) => {
    const c = await findConsumer(ctx, req.params.consumer);
    const client = await findClient(ctx, c, req.params.client);
    if (client.source === 'config') throw new AdminError(409, `oauth2 credential '${req.params.client}' is declared in the config file; change it there (then reload)`);
    await writeThrough(ctx, async () => {
      await revokeClient(ctx.store, activeRevocationFeed(), client.id);
      await ctx.store.oauth2Credentials.delete(client.id);
    });
    return reply.code(204).send();
  });
}

function registerTokenRoutes(app: FastifyInstance, ctx: AdminContext): void {
  app.get<{ Params: { id: string } }>('/oauth2_tokens/:id', async (req) => {
    const token = await ctx.store.oauth2Tokens.getAccessToken(req.params.id);
    const grant = token === null ? null : await ctx.store.oauth2Tokens.getGrant(token.grant_id);
    if (token === null || grant === null) throw notFound('oauth2 token');
    return {
      id: token.jti,
      credential: { id: grant.credential_id },
      client_id: token.client_id,
      authenticated_userid: grant.authenticated_userid,
      scope: token.scope.join(' '),
      token_type: 'bearer',
      grant_type: grant.grant_type,
      created_at: seconds(token.created_at),
      expires_at: seconds(token.expires_at),
      revoked_at: seconds(token.revoked_at ?? grant.revoked_at),
    };
  });

  // Revokes the token and the grant it belongs to (its refresh token, every access token issued
  // from the same authorization): in Kong an oauth2_token holds the access and refresh token.
  app.delete<{ Params: { id: string } }>('/oauth2_tokens/:id', async (req, reply) => {
    const token = await ctx.store.oauth2Tokens.getAccessToken(req.params.id);
    if (token === null) throw notFound('oauth2 token');
    await revokeGrant(ctx.store, activeRevocationFeed(), token.grant_id);
    return reply.code(204).send();
  });
}

/** Registered in ADMIN_ROUTES (src/admin/routes.ts). */
export function oauth2Routes(app: FastifyInstance, ctx: AdminContext): void {
  registerClientRoutes(app, ctx);
  registerTokenRoutes(app, ctx);
}
