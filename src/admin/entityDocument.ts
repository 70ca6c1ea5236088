import { z } from 'zod';
import { stringify } from 'yaml';
import { consumerEntry, workspaceEntry } from '../config/schema.js';
import { ConfigError, formatPath, parseYaml, zodIssues, type ConfigIssue } from '../config/load.js';
import { credentialIssues } from '../config/check.js';
import { configEntities, configSnapshot } from '../store/configSnapshot.js';
import type { EntitySnapshot, Store } from '../store/types.js';
import { readOnly, type AdminError } from './errors.js';

/**
 * Stored entities as a declarative document (SPEC §1 `config export/import`, §10 `GET|POST
 * /config`), the analogue of `kong config db_export/db_import`: `_format_version`,
 * `consumers:` (with `jwt_secrets`, `oauth2_credentials`) and `workspaces:`, in the config
 * file's own format, so an export can also be pasted into a config file. Secrets of OAuth
 * clients travel as `client_secret_hash`. Import merges (upsert by id, then natural key);
 * imported rows are Admin-owned (`source: admin`), existing rows keep their source.
 */

const NOT_STORED = ['gateway', 'services', 'routes', 'plugins', 'upstreams', 'certificates'];

export const entityDocumentSchema = z.strictObject({
  _format_version: z.enum(['1.1', '2.1', '3.0']).default('3.0'),
  _transform: z.boolean().optional(),
  consumers: z.array(consumerEntry).default([]),
  workspaces: z.array(workspaceEntry).default([]),
});

export type EntityDocument = z.output<typeof entityDocumentSchema>;

/** Checks a parsed document; throws ConfigError with one `NAME: path: problem` per issue. */
export function validateEntityDocument(name: string, value: unknown): EntityDocument {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(name, [{ path: '', message: 'expected a mapping with consumers: and/or workspaces:' }]);
  }
  const misplaced: ConfigIssue[] = NOT_STORED.filter((k) => k in value).map((k) => ({
    path: k,
    message: 'not a stored entity: declare it in the config file (import takes consumers and workspaces)',
  }));
  if (misplaced.length > 0) throw new ConfigError(name, misplaced);
  const parsed = entityDocumentSchema.safeParse(value);
  if (!parsed.success) throw new ConfigError(name, zodIssues(parsed.error));
  const unusable = credentialIssues(parsed.data.consumers);
  if (unusable.length > 0) throw new ConfigError(name, unusable.map((i) => ({ path: formatPath(i.path), message: i.message })));
  return parsed.data;
}

/** Parses YAML (or JSON, which is YAML) text without env interpolation (secrets stay verbatim). */
export function parseEntityDocument(name: string, text: string): EntityDocument {
  const { value, issues } = parseYaml(text);
  if (issues.length > 0) throw new ConfigError(name, issues);
  return validateEntityDocument(name, value);
}

/** Everything stored, as a document the import (and a config file) accepts. */
export async function exportEntityDocument(store: Store): Promise<Record<string, unknown>> {
  const { consumers, workspaces } = configEntities(await store.exportEntities());
  return { _format_version: '3.0', consumers, workspaces };
}

export function entityDocumentYaml(doc: Record<string, unknown>): string {
  return stringify(doc, { lineWidth: 0 });
}

/**
 * Merges a document into the store in one transaction. Problems inside the document (two
 * consumers with one username, …) are UserErrors naming the entry; a clash with stored rows is
 * a DuplicateEntityError and nothing is written.
 */
export async function importEntityDocument(store: Store, doc: EntityDocument): Promise<{ consumers: number; workspaces: number }> {
  const snapshot = await configSnapshot(doc, { store });
  const declared = declaredInConfig(snapshot, await store.exportEntities());
  if (declared !== null) throw declared;
  await store.syncEntities(snapshot, { source: 'admin', mode: 'merge' });
  return { consumers: snapshot.consumers.length, workspaces: snapshot.workspaces.length };
}

/**
 * The 409 for the first entry of an import that matches a consumer or credential declared in
 * the config file (read-only through the Admin API, as for PUT/PATCH/DELETE: the merge would
 * otherwise rewrite it until the next reload), or null.
 */
function declaredInConfig(incoming: EntitySnapshot, stored: EntitySnapshot): AdminError | null {
  const consumers = stored.consumers.filter((c) => c.source === 'config');
  const keys = new Set(stored.consumers.flatMap((c) => c.jwt_secrets.filter((j) => j.source === 'config').map((j) => j.key)));
  const clients = new Set(stored.consumers.flatMap((c) => c.oauth2_credentials.filter((o) => o.source === 'config').map((o) => o.client_id)));
  for (const c of incoming.consumers) {
    const hit = consumers.find((s) => s.id === c.id || (c.username !== null && s.username === c.username) || (c.custom_id !== null && s.custom_id === c.custom_id));
    if (hit !== undefined) return readOnly('consumer', hit.username ?? hit.custom_id ?? hit.id);
    for (const j of c.jwt_secrets) if (keys.has(j.key)) return readOnly('jwt credential', j.key);
    for (const o of c.oauth2_credentials) if (clients.has(o.client_id)) return readOnly('oauth2 credential', o.client_id);
  }
  return null;
}
