import type { Insertable, Selectable } from 'kysely';
import type { OAuth2AccessTokensTable, OAuth2CodesTable, OAuth2GrantsTable, OAuth2LoginStatesTable, OAuth2RefreshTokensTable } from '../oauth2Tables.js';
import type { OAuth2AccessToken, OAuth2Code, OAuth2Grant, OAuth2LoginState, OAuth2RefreshToken } from '../oauth2Types.js';
import { encodeStrings } from '../rows.js';

/** Row ↔ entity mapping for migration 0002 (bigint-as-string from pg, JSON text scopes). */

function num(v: number | string): number {
  return typeof v === 'number' ? v : Number(v);
}

function numOrNull(v: number | string | null): number | null {
  return v === null ? null : num(v);
}

function scopes(json: string): string[] {
  try {
    const v: unknown = JSON.parse(json);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

export function codeFromRow(r: Selectable<OAuth2CodesTable>): OAuth2Code {
  return {
    code_hash: r.code_hash,
    grant_id: r.grant_id,
    credential_id: r.credential_id,
    client_id: r.client_id,
    redirect_uri: r.redirect_uri,
    scope: scopes(r.scope),
    authenticated_userid: r.authenticated_userid,
    code_challenge: r.code_challenge,
    code_challenge_method: r.code_challenge_method === 'S256' ? 'S256' : null,
    created_at: num(r.created_at),
    expires_at: num(r.expires_at),
    used_at: numOrNull(r.used_at),
  };
}

export function codeToRow(c: OAuth2Code): Insertable<OAuth2CodesTable> {
  return { ...c, scope: encodeStrings(c.scope) };
}

export function grantFromRow(r: Selectable<OAuth2GrantsTable>): OAuth2Grant {
  return {
    id: r.id,
    credential_id: r.credential_id,
    client_id: r.client_id,
    authenticated_userid: r.authenticated_userid,
    scope: scopes(r.scope),
    grant_type: r.grant_type === 'client_credentials' ? 'client_credentials' : 'authorization_code',
    created_at: num(r.created_at),
    expires_at: numOrNull(r.expires_at),
    revoked_at: numOrNull(r.revoked_at),
  };
}

export function grantToRow(g: OAuth2Grant): Insertable<OAuth2GrantsTable> {
  return { ...g, scope: encodeStrings(g.scope) };
}

export function accessTokenFromRow(r: Selectable<OAuth2AccessTokensTable>): OAuth2AccessToken {
  return {
    jti: r.jti,
    grant_id: r.grant_id,
    client_id: r.client_id,
    subject: r.subject,
    scope: scopes(r.scope),
    created_at: num(r.created_at),
    expires_at: num(r.expires_at),
    revoked_at: numOrNull(r.revoked_at),
  };
}

export function accessTokenToRow(t: OAuth2AccessToken): Insertable<OAuth2AccessTokensTable> {
  return { ...t, scope: encodeStrings(t.scope) };
}

export function refreshTokenFromRow(r: Selectable<OAuth2RefreshTokensTable>): OAuth2RefreshToken {
  return {
    token_hash: r.token_hash,
    grant_id: r.grant_id,
    created_at: num(r.created_at),
    expires_at: numOrNull(r.expires_at),
    used_at: numOrNull(r.used_at),
  };
}

export function loginStateFromRow(r: Selectable<OAuth2LoginStatesTable>): OAuth2LoginState {
  return { ...r, created_at: num(r.created_at), expires_at: num(r.expires_at) };
}
