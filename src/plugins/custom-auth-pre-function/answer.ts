import { emptyIdentity, type Identity } from '../../core/context.js';
import { stringClaim, stringList } from '../jwt/identity.js';

/**
 * The identity in an auth service's 2xx answer (SPEC §5): `user_id`, `client_id`, `username`,
 * `enterprise_id`, `roles`, `workspaces` (camelCase accepted too), and `scopes`/`scope` when
 * given (for `access-control`). Anything else in the answer is ignored.
 */
export function identityFromAnswer(body: unknown): Identity {
  const id = emptyIdentity('custom-auth-pre-function');
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return id;
  const b = body as Record<string, unknown>;
  id.userId = stringClaim(b.user_id) ?? stringClaim(b.userId);
  id.clientId = stringClaim(b.client_id) ?? stringClaim(b.clientId);
  id.username = stringClaim(b.username);
  id.enterpriseId = stringClaim(b.enterprise_id) ?? stringClaim(b.enterpriseId);
  id.roles = stringList(b.roles);
  id.workspaces = stringList(b.workspaces);
  id.scopes = b.scopes !== undefined ? stringList(b.scopes) : stringList(b.scope);
  return id;
}
