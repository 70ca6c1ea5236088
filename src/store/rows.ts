import type { Insertable, Selectable } from 'kysely';
import type { ConsumersTable, JwtSecretsTable, OAuth2CredentialsTable, WorkspaceMembersTable, WorkspacesTable } from './tables.js';
import type { Consumer, EntitySource, JwtSecret, OAuth2Credential, Workspace, WorkspaceMember } from './types.js';

/**
 * Row ↔ entity mapping, the only place that knows the storage encodings: JSON text arrays,
 * bigint-as-string from pg, source and client type as text.
 */

function toNumber(v: number | string): number {
  return typeof v === 'number' ? v : Number(v);
}

function toSource(v: string): EntitySource {
  return v === 'config' ? 'config' : 'admin';
}

function parseStrings(json: string): string[] {
  try {
    const v: unknown = JSON.parse(json);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

export function encodeStrings(list: readonly string[]): string {
  return JSON.stringify(list);
}

export function consumerFromRow(r: Selectable<ConsumersTable>): Consumer {
  return {
    id: r.id,
    username: r.username,
    custom_id: r.custom_id,
    tags: parseStrings(r.tags),
    source: toSource(r.source),
    created_at: toNumber(r.created_at),
  };
}

export function consumerToRow(c: Consumer): Insertable<ConsumersTable> {
  return { id: c.id, username: c.username, custom_id: c.custom_id, tags: encodeStrings(c.tags), source: c.source, created_at: c.created_at };
}

export function jwtSecretFromRow(r: Selectable<JwtSecretsTable>): JwtSecret {
  return {
    id: r.id,
    consumer_id: r.consumer_id,
    key: r.key,
    algorithm: r.algorithm,
    rsa_public_key: r.rsa_public_key,
    secret: r.secret,
    tags: parseStrings(r.tags),
    source: toSource(r.source),
    created_at: toNumber(r.created_at),
  };
}

export function jwtSecretToRow(s: JwtSecret): Insertable<JwtSecretsTable> {
  return {
    id: s.id,
    consumer_id: s.consumer_id,
    key: s.key,
    algorithm: s.algorithm,
    rsa_public_key: s.rsa_public_key,
    secret: s.secret,
    tags: encodeStrings(s.tags),
    source: s.source,
    created_at: s.created_at,
  };
}

export function oauth2CredentialFromRow(r: Selectable<OAuth2CredentialsTable>): OAuth2Credential {
  return {
    id: r.id,
    consumer_id: r.consumer_id,
    name: r.name,
    client_id: r.client_id,
    client_secret_hash: r.client_secret_hash,
    client_type: r.client_type === 'public' ? 'public' : 'confidential',
    redirect_uris: parseStrings(r.redirect_uris),
    tags: parseStrings(r.tags),
    source: toSource(r.source),
    created_at: toNumber(r.created_at),
  };
}

export function oauth2CredentialToRow(c: OAuth2Credential): Insertable<OAuth2CredentialsTable> {
  return {
    id: c.id,
    consumer_id: c.consumer_id,
    name: c.name,
    client_id: c.client_id,
    client_secret_hash: c.client_secret_hash,
    client_type: c.client_type,
    redirect_uris: encodeStrings(c.redirect_uris),
    tags: encodeStrings(c.tags),
    source: c.source,
    created_at: c.created_at,
  };
}

export function workspaceFromRow(r: Selectable<WorkspacesTable>): Workspace {
  return {
    id: r.id,
    token_budget_day: r.token_budget_day === null ? null : toNumber(r.token_budget_day),
    source: toSource(r.source),
    created_at: toNumber(r.created_at),
    updated_at: toNumber(r.updated_at),
  };
}

export function memberFromRow(r: Selectable<WorkspaceMembersTable>): WorkspaceMember {
  return { workspace_id: r.workspace_id, user_id: r.user_id, source: toSource(r.source), created_at: toNumber(r.created_at) };
}
