import type { PluginEntry } from '../../config/schema.js';
import { INVALID, type ConfigParts, type Part } from '../../config/parts.js';
import type { PluginConfigIssue } from '../../core/plugin.js';
import type { OAuth2Config } from './schema.js';

/**
 * Cross-field checks of an `oauth2` entry (`tollgate config validate` prints them):
 * - `gateway.issuer` and at least one usable `gateway.signing_keys` entry are required;
 * - the grants and the PKCE mode OAuth 2.1 removed are refused, saying why;
 * - tollgate has ONE authorization server (`/oauth2/*`), so every oauth2 entry (global,
 *   service, route) must carry the same settings; only `hide_credentials` may differ.
 * Problems outside the entry (gateway.*) are reported once, by the first oauth2 entry. In a
 * file that fails the schema, broken entries and gateway fields are not judged (parts.ts).
 */

/** Settings that belong to the route, not to the authorization server. */
const PER_ROUTE: ReadonlySet<string> = new Set(['hide_credentials']);

interface Located {
  path: string;
  config: OAuth2Config;
}

function oauth2Entries(root: ConfigParts): Located[] {
  const found: Located[] = [];
  const scan = (entries: Part<PluginEntry>[], path: string) =>
    entries.forEach((e, i) => {
      if (e !== INVALID && e.name === 'oauth2' && e.enabled) found.push({ path: `${path}[${i}]`, config: e.config as OAuth2Config });
    });
  scan(root.plugins, 'plugins');
  root.services.forEach((s, si) => {
    if (s === INVALID) return;
    scan(s.plugins, `services[${si}].plugins`);
    s.routes.forEach((r, ri) => {
      if (r !== INVALID) scan(r.plugins, `services[${si}].routes[${ri}].plugins`);
    });
  });
  return found;
}

function serverSettings(c: OAuth2Config): string {
  return JSON.stringify(Object.entries(c).filter(([k]) => !PER_ROUTE.has(k)));
}

function gatewayIssues(root: ConfigParts): PluginConfigIssue[] {
  const issues: PluginConfigIssue[] = [];
  const { issuer, signing_keys: keys } = root.gateway;
  if (issuer === undefined) {
    issues.push({ path: ['gateway', 'issuer'], absolute: true, message: 'required by the oauth2 plugin: the OAuth issuer identifier, e.g. https://api.your-domain.com' });
  } else if (issuer !== INVALID && /[?#]/.test(issuer)) {
    issues.push({ path: ['gateway', 'issuer'], absolute: true, message: 'an issuer has no query or fragment (RFC 8414)' });
  }
  if (keys !== INVALID && keys.length === 0) {
    issues.push({
      path: ['gateway', 'signing_keys'],
      absolute: true,
      message: 'the oauth2 plugin needs a signing key: [{ kid: gw-1, private_key_file: /etc/tollgate/jwt/private.pem }] (openssl genrsa -out private.pem 4096)',
    });
  }
  // Whether the keys load is checked for every config (checkConfig): jwt verifies tollgate's own tokens with them too.
  return issues;
}

export function checkOAuth2(config: OAuth2Config, root: ConfigParts): PluginConfigIssue[] {
  const issues: PluginConfigIssue[] = [];
  if (config.enable_implicit_grant) {
    issues.push({ path: ['enable_implicit_grant'], message: 'OAuth 2.1 removed the implicit grant; remove this setting (clients use the authorization code flow with PKCE)' });
  }
  if (config.enable_password_grant) {
    issues.push({ path: ['enable_password_grant'], message: 'OAuth 2.1 removed the password grant; remove this setting (use the authorization code flow, or client_credentials for services)' });
  }
  if (config.pkce === 'none') {
    issues.push({ path: ['pkce'], message: "OAuth 2.1 requires PKCE: use 'strict' (every client, the default) or 'lax' (public clients only)" });
  }
  const entries = oauth2Entries(root);
  const first = entries[0];
  if (first === undefined || first.config === config) issues.push(...gatewayIssues(root));
  else if (serverSettings(first.config) !== serverSettings(config)) {
    issues.push({
      path: [],
      message: `differs from the oauth2 entry at ${first.path}: every oauth2 entry shares one authorization server (/oauth2/*), so only hide_credentials may differ`,
    });
  }
  return issues;
}
