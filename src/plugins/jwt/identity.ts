import { emptyIdentity, type Identity } from '../../core/context.js';

/** Helpers that turn verified claims into an Identity (SPEC §5), shared by the JWT plugins. */

export function stringClaim(v: unknown): string | null {
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return null;
}

/** A string array claim; a space-separated string is split (`scope`). */
export function stringList(v: unknown): string[] {
  if (typeof v === 'string') return v.split(/\s+/).filter((s) => s !== '');
  if (!Array.isArray(v)) return [];
  const out: string[] = [];
  for (const item of v) if (typeof item === 'string' && item !== '') out.push(item);
  return out;
}

function unique(list: string[]): string[] {
  return list.length < 2 ? list : [...new Set(list)];
}

/** `scopes` (array) or `scope` (string), deduplicated. */
export function scopesOf(payload: Record<string, unknown>): string[] {
  return unique(payload.scopes !== undefined ? stringList(payload.scopes) : stringList(payload.scope));
}

/** Workspaces the token itself grants: `workspaces` (array or string) and `workspace_id`. */
export function workspacesOf(payload: Record<string, unknown>): string[] {
  const list = stringList(payload.workspaces);
  const one = stringClaim(payload.workspace_id);
  if (one !== null) list.push(one);
  return unique(list);
}

/** Keycloak roles: `realm_access.roles` plus every `resource_access.<client>.roles`. */
export function keycloakRoles(payload: Record<string, unknown>): string[] {
  const roles: string[] = [];
  const realm = payload.realm_access;
  if (realm !== null && typeof realm === 'object') roles.push(...stringList((realm as Record<string, unknown>).roles));
  const resources = payload.resource_access;
  if (resources !== null && typeof resources === 'object') {
    for (const entry of Object.values(resources as Record<string, unknown>)) {
      if (entry !== null && typeof entry === 'object') roles.push(...stringList((entry as Record<string, unknown>).roles));
    }
  }
  if (roles.length === 0) roles.push(...stringList(payload.roles));
  return unique(roles);
}

/**
 * The claims every JWT plugin maps the same way: `sub` → user, `azp`/`client_id` → client,
 * `preferred_username` → username, `enterprise_id`, scopes, workspaces. Roles are the caller's
 * choice (`roles` for `jwt`, Keycloak's for `custom-jwt-auth`).
 */
export function identityFromClaims(method: string, payload: Record<string, unknown>, roles: string[]): Identity {
  const id = emptyIdentity(method);
  id.userId = stringClaim(payload.sub);
  id.clientId = stringClaim(payload.azp) ?? stringClaim(payload.client_id);
  id.username = stringClaim(payload.preferred_username);
  id.enterpriseId = stringClaim(payload.enterprise_id) ?? stringClaim(payload.enterpriseId);
  id.roles = roles;
  id.scopes = scopesOf(payload);
  id.workspaces = workspacesOf(payload);
  id.claims = Object.freeze(payload);
  return id;
}

/** A per-request copy of a cached identity, so no request can alter what the cache holds. */
export function copyIdentity(id: Identity): Identity {
  return { ...id, roles: id.roles.slice(), scopes: id.scopes.slice(), workspaces: id.workspaces.slice() };
}
