import type { AuthServer } from './authServer.js';

/**
 * RFC 8414 authorization server metadata, derived from the issuer and the plugin's settings
 * (served at `/.well-known/oauth-authorization-server`, and at the RFC 8414 §3.1 path-inserted
 * form when the issuer has a path).
 */
export function serverMetadata(as: AuthServer, browserFlow: boolean): Record<string, unknown> {
  const s = as.settings;
  const grants = [...(s.enable_authorization_code ? ['authorization_code', 'refresh_token'] : []), ...(s.enable_client_credentials ? ['client_credentials'] : [])];
  const doc: Record<string, unknown> = {
    issuer: as.issuer,
    authorization_endpoint: `${as.base}/oauth2/authorize`,
    token_endpoint: `${as.base}/oauth2/token`,
    revocation_endpoint: `${as.base}/oauth2/revoke`,
    introspection_endpoint: `${as.base}/oauth2/introspect`,
    jwks_uri: `${as.base}/.well-known/jwks.json`,
    response_types_supported: s.enable_authorization_code ? ['code'] : [],
    response_modes_supported: ['query'],
    grant_types_supported: grants,
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    code_challenge_methods_supported: ['S256'],
    authorization_response_iss_parameter_supported: true,
    access_token_signing_alg_values_supported: [...new Set(as.keys.all.map((k) => k.alg))],
  };
  if (s.scopes.length > 0) doc.scopes_supported = s.scopes;
  if (!browserFlow) doc.tollgate_authorization_flows = ['provision_key'];
  return doc;
}

/** The well-known paths the metadata is served at. */
export function metadataPaths(as: AuthServer): string[] {
  const path = new URL(as.issuer).pathname.replace(/\/+$/, '');
  const base = '/.well-known/oauth-authorization-server';
  return path === '' ? [base] : [base, `${base}${path}`];
}
