import { z } from 'zod';
import {
  consumerEntry,
  gatewaySchema,
  pluginEntrySchema,
  routeSchema,
  serviceSchema,
  workspaceEntry,
  type ConsumerEntry,
  type GatewaySettings,
  type PluginEntry,
  type RouteConfig,
  type ServiceConfig,
  type WorkspaceEntry,
} from './schema.js';
import type { PluginRegistry } from '../core/registry.js';

/**
 * The parts of a config file that pass the schema, so that the cross-field checks (check.ts)
 * also run on a file that fails it, and one run reports every problem.
 *
 * A part is one `gateway` field, or one item of a list: a service, a route, a plugin entry (at
 * any scope), a consumer, a workspace. A part with a schema problem anywhere inside it is
 * INVALID: there, but unknown. The rule for checks: skip what cannot be judged, never read an
 * INVALID part as absent — so no problem is reported that only follows from another one (no
 * `gateway.issuer: required` for an issuer that is set but is not a URL, no duplicate name
 * against a service whose entry is broken). Hence:
 * - a service's own problem makes the whole service INVALID (routes too: their default names
 *   come from it); a broken route or plugin entry leaves its service judged;
 * - a list that is not a list reads as one INVALID item (something is there);
 * - an unknown key may be a misspelt one: in a mapping with an unknown key (the top level,
 *   `gateway`), the known keys it does not set are INVALID, not their defaults.
 */
export const INVALID: unique symbol = Symbol('invalid config part');
export type Part<T> = T | typeof INVALID;

export type GatewayParts = { [K in keyof GatewaySettings]: Part<GatewaySettings[K]> };
export interface RouteParts extends Omit<RouteConfig, 'plugins'> {
  plugins: Part<PluginEntry>[];
}
export interface ServiceParts extends Omit<ServiceConfig, 'routes' | 'plugins'> {
  routes: Part<RouteParts>[];
  plugins: Part<PluginEntry>[];
}
/** What the cross-field checks read: a valid TollgateConfig is one, with no INVALID part. */
export interface ConfigParts {
  gateway: GatewayParts;
  services: Part<ServiceParts>[];
  plugins: Part<PluginEntry>[];
  consumers: Part<ConsumerEntry>[];
  workspaces: Part<WorkspaceEntry>[];
}

const ROOT_KEYS: ReadonlySet<string> = new Set(['_format_version', '_transform', 'gateway', 'services', 'plugins', 'consumers', 'workspaces']);

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A list's items, each parsed on its own; `misspelt`: an absent list may be misspelt. */
export function listParts<T>(value: unknown, item: z.ZodType<T>, misspelt = false): Part<T>[] {
  if (value === undefined) return misspelt ? [INVALID] : [];
  if (!Array.isArray(value)) return [INVALID];
  return value.map((v) => {
    const parsed = item.safeParse(v);
    return parsed.success ? parsed.data : INVALID;
  });
}

/** A zod list whose items fail on their own (the lenient twin of `z.array(item)`). */
function lenientList<T>(item: z.ZodType<T>): z.ZodType<T[]> {
  return z.array(item.catch(INVALID as never)).catch([INVALID as never]) as unknown as z.ZodType<T[]>;
}

/** `misspelt`: the top level has an unknown key and no `gateway:` (was it `gatway:`?). */
function gatewayParts(value: unknown, misspelt: boolean): GatewayParts {
  const shape = gatewaySchema.shape;
  const keys = Object.keys(shape) as (keyof GatewaySettings)[];
  const parts = {} as Record<keyof GatewaySettings, unknown>;
  const gateway = value === undefined ? {} : value;
  if ((value === undefined && misspelt) || !isMapping(gateway)) {
    for (const k of keys) parts[k] = INVALID;
    return parts as GatewayParts;
  }
  const unknownKey = Object.keys(gateway).some((k) => !(k in shape));
  for (const k of keys) {
    if (unknownKey && gateway[k] === undefined) parts[k] = INVALID;
    else {
      const parsed = (shape[k] as z.ZodType).safeParse(gateway[k]);
      parts[k] = parsed.success ? parsed.data : INVALID;
    }
  }
  return parts as GatewayParts;
}

/**
 * The parts of an interpolated top-level mapping (see above). Called only for a file that
 * failed the schema: a valid file's TollgateConfig is checked as it is.
 */
export function configParts(root: Record<string, unknown>, registry: PluginRegistry): ConfigParts {
  const plugin = pluginEntrySchema(registry);
  const plugins = lenientList(plugin);
  const route = routeSchema(plugins);
  const service = serviceSchema(plugins, lenientList(route));
  // An unknown top-level key may be `service:` for `services:`: absent sections are unknown.
  const misspelt = Object.keys(root).some((k) => !ROOT_KEYS.has(k));
  return {
    gateway: gatewayParts(root.gateway, misspelt),
    services: listParts(root.services, service, misspelt) as Part<ServiceParts>[],
    plugins: listParts(root.plugins, plugin, misspelt),
    consumers: listParts(root.consumers, consumerEntry, misspelt),
    workspaces: listParts(root.workspaces, workspaceEntry, misspelt),
  };
}
