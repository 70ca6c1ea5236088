import type { ConsumerEntry, PluginEntry } from './schema.js';
import { formatPath, type ConfigIssue } from './load.js';
import { INVALID, type ConfigParts, type Part } from './parts.js';
import type { PluginRegistry } from '../core/registry.js';
import { isLoopbackListen } from '../server/listen.js';
import { signingKeyProblems } from '../oauth/signingKeys.js';
import { checkCredentialKey } from '../plugins/jwt/keyMaterial.js';

/**
 * Cross-field checks the schema cannot express: uniqueness, regexes, plugin checks. They run
 * on a valid config, and on the parts of an invalid one that pass the schema (parts.ts): an
 * INVALID part is skipped, with whatever cannot be judged without it.
 */
export function checkConfig(config: ConfigParts, registry: PluginRegistry): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const add = (path: PropertyKey[], message: string) => issues.push({ path: formatPath(path), message });

  checkPlugins(config.plugins, ['plugins'], config, registry, add);

  const serviceNames = new Map<string, number>();
  const routeNames = new Map<string, string>();
  config.services.forEach((service, si) => {
    if (service === INVALID) return;
    const sp = ['services', si];
    const dup = serviceNames.get(service.name);
    if (dup !== undefined) add([...sp, 'name'], `duplicate service name '${service.name}' (also services[${dup}])`);
    serviceNames.set(service.name, si);
    checkPlugins(service.plugins, [...sp, 'plugins'], config, registry, add);

    service.routes.forEach((route, ri) => {
      if (route === INVALID) return;
      const rp = [...sp, 'routes', ri];
      const routeName = route.name ?? `${service.name}-${ri}`;
      const where = routeNames.get(routeName);
      if (where !== undefined) add([...rp, 'name'], `duplicate route name '${routeName}' (also ${where})`);
      routeNames.set(routeName, formatPath(rp));
      if (route.paths.length === 0 && route.hosts.length === 0 && route.methods.length === 0 && Object.keys(route.headers).length === 0) {
        add(rp, 'a route needs at least one of paths, hosts, methods or headers');
      }
      route.paths.forEach((p, pi) => {
        if (!p.startsWith('~')) return;
        try {
          new RegExp(p.slice(1));
        } catch (err) {
          add([...rp, 'paths', pi], `invalid regex: ${(err as Error).message}`);
        }
      });
      checkPlugins(route.plugins, [...rp, 'plugins'], config, registry, add);
    });
  });

  const usernames = new Set<string>();
  const jwtKeys = new Set<string>();
  const clientIds = new Set<string>();
  config.consumers.forEach((c, ci) => {
    if (c === INVALID) return;
    const cp = ['consumers', ci];
    if (c.username !== undefined) {
      if (usernames.has(c.username)) add([...cp, 'username'], `duplicate consumer username '${c.username}'`);
      usernames.add(c.username);
    }
    c.jwt_secrets.forEach((s, si) => {
      if (jwtKeys.has(s.key)) add([...cp, 'jwt_secrets', si, 'key'], `duplicate jwt credential key '${s.key}'`);
      jwtKeys.add(s.key);
    });
    c.oauth2_credentials.forEach((o, oi) => {
      if (o.client_id !== undefined) {
        if (clientIds.has(o.client_id)) add([...cp, 'oauth2_credentials', oi, 'client_id'], `duplicate client_id '${o.client_id}'`);
        clientIds.add(o.client_id);
      }
      if (o.client_type === 'confidential' && o.client_secret === undefined && o.client_secret_hash === undefined) {
        add([...cp, 'oauth2_credentials', oi, 'client_secret'], 'required for a confidential client (or set client_type: public)');
      }
      if (o.client_type === 'public' && (o.client_secret !== undefined || o.client_secret_hash !== undefined)) {
        add([...cp, 'oauth2_credentials', oi, 'client_secret'], 'a public client has no secret');
      }
    });
  });

  for (const issue of credentialIssues(config.consumers)) add(issue.path, issue.message);

  const workspaceIds = new Set<string>();
  config.workspaces.forEach((w, wi) => {
    if (w === INVALID) return;
    if (workspaceIds.has(w.id)) add(['workspaces', wi, 'id'], `duplicate workspace '${w.id}'`);
    workspaceIds.add(w.id);
  });

  // Every signing key must load whoever uses them (oauth2 signs, jwt verifies tollgate's own
  // tokens): `config validate` then fails where `start` would.
  const { signing_keys: keys, admin_listen: listen, admin_token: token } = config.gateway;
  if (keys !== INVALID) for (const [path, message] of signingKeyProblems(keys)) add(path, message);

  if (listen !== INVALID && token !== INVALID && !isLoopbackListen(listen) && (token === undefined || token === '')) {
    add(['gateway', 'admin_token'], `required because admin_listen (${listen}) is not a loopback address`);
  }
  return issues;
}

/**
 * JWT credentials that could never verify a token, for config files and `config import`
 * alike (the Admin API refuses the same with checkCredentialKey): HS* need their secret, the
 * others a PEM public key of the right type and size.
 */
export function credentialIssues(consumers: readonly Part<ConsumerEntry>[]): Array<{ path: PropertyKey[]; message: string }> {
  const out: Array<{ path: PropertyKey[]; message: string }> = [];
  consumers.forEach((c, ci) => {
    if (c === INVALID) return;
    c.jwt_secrets.forEach((s, si) => {
      const at = ['consumers', ci, 'jwt_secrets', si];
      if (s.algorithm.startsWith('HS') && s.secret === undefined) out.push({ path: [...at, 'secret'], message: `required for algorithm ${s.algorithm}` });
      for (const [field, problem] of Object.entries(checkCredentialKey(s.algorithm, s.rsa_public_key, s.secret))) out.push({ path: [...at, field], message: problem });
    });
  });
  return out;
}

function checkPlugins(
  entries: Part<PluginEntry>[],
  path: PropertyKey[],
  config: ConfigParts,
  registry: PluginRegistry,
  add: (path: PropertyKey[], message: string) => void,
): void {
  const seen = new Map<string, number>();
  entries.forEach((entry, i) => {
    if (entry === INVALID) return;
    const id = `${entry.name}:${entry.instance_name ?? ''}`;
    const prev = seen.get(id);
    if (prev !== undefined) {
      add(
        [...path, i],
        `plugin '${entry.name}'${entry.instance_name ? ` instance '${entry.instance_name}'` : ''} appears twice in this scope (also ${formatPath([...path, prev])}); give each an instance_name`,
      );
    }
    seen.set(id, i);
    // A disabled entry (`enabled: false`: off for this scope) still needs a valid config, but
    // not the cross-field checks that only matter when it runs (issuer, shared settings, …).
    if (!entry.enabled) return;
    const def = registry.get(entry.name);
    for (const issue of def?.check?.(entry.config, config) ?? []) {
      add(issue.absolute ? issue.path : [...path, i, 'config', ...issue.path], issue.message);
    }
  });
}
