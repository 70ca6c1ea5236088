import { z } from 'zod';
import { stringify } from 'yaml';
import { consumerEntry, workspaceEntry } from '../config/schema.js';
import { ConfigError, formatPath, parseYaml, zodIssues, type ConfigIssue } from '../config/load.js';
import { credentialIssues } from '../config/check.js';
import { listParts } from '../config/parts.js';
import { configEntities, configSnapshot } from '../store/configSnapshot.js';
import type { EntitySnapshot, Store } from '../store/types.js';

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

/**
 * Checks a parsed document; throws ConfigError with one `NAME: path: problem` per issue, all
 * of them in one run: non-entities, the schema's problems, and unusable JWT credentials of the
 * consumers that pass the schema (config/parts.ts).
 */
export function validateEntityDocument(name: string, value: unknown): EntityDocument {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(name, [{ path: '', message: 'expected a mapping with consumers: and/or workspaces:' }]);
  }
  const misplaced: ConfigIssue[] = NOT_STORED.filter((k) => k in value).map((k) => ({
    path: k,
    message: 'not a stored entity: declare it in the config file (import takes consumers and workspaces)',
  }));
  const entities = misplaced.length === 0 ? value : Object.fromEntries(Object.entries(value).filter(([k]) => !NOT_STORED.includes(k)));
  const parsed = entityDocumentSchema.safeParse(entities);
  const consumers = parsed.success ? parsed.data.consumers : listParts((entities as { consumers?: unknown }).consumers, consumerEntry);
  const unusable = credentialIssues(consumers).map((i) => ({ path: formatPath(i.path), message: i.message }));
  const issues = [...misplaced, ...(parsed.success ? [] : zodIssues(parsed.error)), ...unusable];
  if (!parsed.success || issues.length > 0) throw new ConfigError(name, issues);
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
export async function importEntityDocument(store: Store, doc: EntityDocument): Promise<{ consumers: number; workspaces: number; kept: string[] }> {
  const { snapshot, kept } = keepDeclared(await configSnapshot(doc, { store }), await store.exportEntities());
  await store.syncEntities(snapshot, { source: 'admin', mode: 'merge' });
  return { consumers: snapshot.consumers.length, workspaces: snapshot.workspaces.length, kept };
}

/**
 * What is declared in the config file stays as the file says (read-only through the Admin
 * API, as for PUT/PATCH/DELETE; the merge would otherwise rewrite it until the next reload): an
 * entry matching a config-declared consumer leaves that consumer's fields as they are, and a
 * credential matching a config-declared JWT key or client_id is left out. Other credentials of
 * such a consumer are imported (as POST /consumers/{c}/jwt may add them), so a backup of a
 * store restores into it, or into a new one the same file has been synced into. `kept` names
 * what was left as declared.
 */
function keepDeclared(incoming: EntitySnapshot, stored: EntitySnapshot): { snapshot: EntitySnapshot; kept: string[] } {
  const consumers = stored.consumers.filter((c) => c.source === 'config');
  const keys = new Set(stored.consumers.flatMap((c) => c.jwt_secrets.filter((j) => j.source === 'config').map((j) => j.key)));
  const clients = new Set(stored.consumers.flatMap((c) => c.oauth2_credentials.filter((o) => o.source === 'config').map((o) => o.client_id)));
  const kept: string[] = [];
  const out = incoming.consumers.map((c) => {
    const hit = consumers.find((s) => s.id === c.id || (c.username !== null && s.username === c.username) || (c.custom_id !== null && s.custom_id === c.custom_id));
    if (hit !== undefined) kept.push(`consumer '${hit.username ?? hit.custom_id ?? hit.id}'`);
    const owner = hit?.id ?? c.id;
    const jwt_secrets = c.jwt_secrets.filter((j) => !keys.has(j.key) || (kept.push(`jwt credential '${j.key}'`), false)).map((j) => ({ ...j, consumer_id: owner }));
    const oauth2_credentials = c.oauth2_credentials
      .filter((o) => !clients.has(o.client_id) || (kept.push(`oauth2 credential '${o.client_id}'`), false))
      .map((o) => ({ ...o, consumer_id: owner }));
    const fields = hit === undefined ? {} : { id: hit.id, username: hit.username, custom_id: hit.custom_id, tags: hit.tags };
    return { ...c, ...fields, jwt_secrets, oauth2_credentials };
  });
  return { snapshot: { ...incoming, consumers: out }, kept };
}
