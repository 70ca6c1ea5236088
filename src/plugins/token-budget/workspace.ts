import type { Identity, RequestContext } from '../../core/context.js';
import { BadRequestError, ForbiddenError } from '../../core/errors.js';

/**
 * Which workspace a request is charged to (SPEC §7):
 *
 * 1. The workspace header, when present and allowed: with `membership: open` any workspace;
 *    with `strict` one of the caller's — in the token's claims (`workspace_claims`), the auth
 *    service's `workspaces`, or stored memberships (Admin API / config `workspaces[].members`).
 *    A header naming another workspace → 403.
 * 2. Else the caller's only or first workspace: claims first, then stored memberships (oldest).
 * 3. Else 400 `X-Workspace-Id required`.
 */
export interface WorkspaceRules {
  /** Lower-cased header name. */
  header: string;
  /** The header name as configured, for messages. */
  headerLabel: string;
  claimNames: readonly string[];
  strict: boolean;
}

/** Stored memberships of a caller (cached per replica). */
export type MembershipLookup = (memberId: string) => readonly string[] | Promise<readonly string[]>;

/** Workspace ids: visible ASCII, no spaces, at most 255 characters (the store's limit). */
const WORKSPACE_ID = /^[\x21-\x7e]{1,255}$/;

function pushClaim(out: string[], v: unknown): void {
  if (typeof v === 'string') {
    if (v !== '') out.push(v);
  } else if (typeof v === 'number' && Number.isFinite(v)) {
    out.push(String(v));
  } else if (Array.isArray(v)) {
    for (const item of v) if (typeof item === 'string' && item !== '') out.push(item);
  }
}

/** Workspaces the credential grants: the configured claims of a token, else the mapped list. */
export function credentialWorkspaces(identity: Identity | null, claimNames: readonly string[]): string[] {
  if (identity === null) return [];
  const claims = identity.claims;
  if (claims === undefined) return identity.workspaces;
  const out: string[] = [];
  for (const name of claimNames) pushClaim(out, claims[name]);
  return out;
}

/** The id stored memberships are keyed by: the user id, else the authenticated user, else the consumer. */
export function memberIdOf(identity: Identity | null): string | null {
  if (identity === null) return null;
  return identity.userId ?? identity.authenticatedUserid ?? identity.consumerId;
}

function headerValue(ctx: RequestContext, name: string): string | null {
  const v = ctx.req.headers[name];
  const s = (Array.isArray(v) ? v[0] : v)?.trim();
  return s === undefined || s === '' ? null : s;
}

/**
 * Resolves synchronously when no stored membership is needed (the common case: the header
 * names a workspace of the token, or the token names one); else after one (cached) store read.
 */
export function resolveWorkspace(ctx: RequestContext, rules: WorkspaceRules, memberships: MembershipLookup): string | Promise<string> {
  const identity = ctx.identity;
  const asked = headerValue(ctx, rules.header);
  const granted = credentialWorkspaces(identity, rules.claimNames);
  if (asked !== null) {
    if (!WORKSPACE_ID.test(asked)) {
      throw new BadRequestError(`${rules.headerLabel} must be 1 to 255 visible characters without spaces`, undefined, 'TG_WORKSPACE_INVALID');
    }
    if (!rules.strict || granted.includes(asked)) return asked;
  } else {
    for (const ws of granted) if (WORKSPACE_ID.test(ws)) return ws;
  }
  const memberId = memberIdOf(identity);
  if (memberId === null) return fromMemberships(rules, asked, []);
  const stored = memberships(memberId);
  return stored instanceof Promise ? stored.then((list) => fromMemberships(rules, asked, list)) : fromMemberships(rules, asked, stored);
}

/** The answer from stored memberships: the asked workspace if stored, else their first one, else the error. */
function fromMemberships(rules: WorkspaceRules, asked: string | null, stored: readonly string[]): string {
  if (asked !== null) {
    if (stored.includes(asked)) return asked;
    throw new ForbiddenError(`You are not a member of workspace '${asked}'`, undefined, 'TG_WORKSPACE_FORBIDDEN');
  }
  if (stored.length > 0) return stored[0]!;
  throw new BadRequestError(`${rules.headerLabel} required`, undefined, 'TG_WORKSPACE_REQUIRED');
}
