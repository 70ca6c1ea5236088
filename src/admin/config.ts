import type { FastifyInstance, FastifyRequest } from 'fastify';
import { writeThrough, type AdminContext } from './context.js';
import { AdminError, nulField, nulRefusal, textParser } from './errors.js';
import { ConfigError } from '../config/load.js';
import { UserError } from '../core/errors.js';
import { entityDocumentYaml, exportEntityDocument, importEntityDocument, parseEntityDocument, validateEntityDocument, type EntityDocument } from './entityDocument.js';

/**
 * Admin API `GET /config` (export) and `POST /config` (import), the same documents as
 * `tollgate config export/import` (src/admin/entityDocument.ts).
 *
 * GET answers YAML (`application/yaml`), or JSON when the client asks for it
 * (`Accept: application/json`). POST takes YAML text (`application/yaml`, `text/yaml`,
 * `text/plain`), a JSON document, or Kong's `{"config": "<yaml text>"}`.
 */

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

function documentProblems(err: ConfigError): AdminError {
  const fields: Record<string, string> = {};
  for (const issue of err.issues) fields[issue.path || '@entity'] ??= issue.message;
  return new AdminError(400, 'schema violation', fields);
}

function readDocument(body: unknown): EntityDocument {
  const doc = parsedDocument(body);
  // YAML escapes (`"\0"`) reach here; a JSON body's NUL was refused before the route ran.
  const where = nulField(doc, '');
  if (where !== null) throw nulRefusal(where);
  return doc;
}

function parsedDocument(body: unknown): EntityDocument {
  if (typeof body === 'string') return parseEntityDocument('body', body);
  if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
    const config = (body as Record<string, unknown>).config;
    if (typeof config === 'string' && Object.keys(body).length === 1) return parseEntityDocument('config', config);
  }
  return validateEntityDocument('body', body);
}

function wantsJson(req: FastifyRequest): boolean {
  const accept = req.headers.accept ?? '';
  return accept.includes('application/json') && !accept.includes('yaml');
}

export async function configRoutes(app: FastifyInstance, ctx: AdminContext): Promise<void> {
  await app.register(async (scope) => {
    // text/plain is the root's parser (the same: the body as UTF-8 text).
    scope.addContentTypeParser(YAML_TYPES, { parseAs: 'buffer' }, textParser((text) => text));

    scope.get('/config', async (req, reply) => {
      const doc = await exportEntityDocument(ctx.store);
      if (wantsJson(req)) return doc;
      return reply.type('application/yaml; charset=utf-8').send(entityDocumentYaml(doc));
    });

    scope.post('/config', async (req, reply) => {
      let doc: EntityDocument;
      try {
        doc = readDocument(req.body);
      } catch (err) {
        if (err instanceof ConfigError) throw documentProblems(err);
        throw err;
      }
      try {
        const { kept, ...counts } = await writeThrough(ctx, () => importEntityDocument(ctx.store, doc));
        return reply.code(201).send({ message: 'imported', ...counts, ...(kept.length > 0 ? { kept_as_declared: kept } : {}) });
      } catch (err) {
        if (err instanceof UserError) throw new AdminError(400, err.message);
        throw err;
      }
    });
  });
}
