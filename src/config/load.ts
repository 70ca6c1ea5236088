import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parseDocument, visit, Scalar, type Document } from 'yaml';
import type { z } from 'zod';
import { buildConfigSchema, type TollgateConfig } from './schema.js';
import { interpolate, typedScalar } from './interpolate.js';
import { checkConfig } from './check.js';
import { configParts } from './parts.js';
import { describeIssue } from './issues.js';
import type { PluginRegistry } from '../core/registry.js';

/** One problem in a config file: `path` like `services[0].routes[1].paths[0]`. */
export interface ConfigIssue {
  path: string;
  message: string;
}

/** A config file that failed to load; `format()` gives the `FILE: path: problem` lines. */
export class ConfigError extends Error {
  readonly code = 'TG_BAD_CONFIG';
  constructor(
    readonly file: string,
    readonly issues: ConfigIssue[],
  ) {
    super(issues.map((i) => formatIssue(file, i)).join('\n'));
    this.name = 'ConfigError';
  }
}

export function formatIssue(file: string, issue: ConfigIssue): string {
  return issue.path ? `${file}: ${issue.path}: ${issue.message}` : `${file}: ${issue.message}`;
}

/** `['services', 0, 'routes', 1, 'name']` → `services[0].routes[1].name`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number' || (typeof seg === 'string' && /^\d+$/.test(seg))) out += `[${String(seg)}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

export function zodIssues(error: z.ZodError): ConfigIssue[] {
  const seen = new Set<string>();
  const issues: ConfigIssue[] = [];
  for (const issue of error.issues) {
    const base = { path: formatPath(issue.path), message: describeIssue(issue) };
    const key = `${base.path}\u0000${base.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      issues.push(base);
    }
  }
  return issues;
}

/** Parses YAML or JSON text (JSON is YAML, but a .json file gets JSON's stricter parser). */
export function parseText(file: string, text: string, env: NodeJS.ProcessEnv = process.env): { value: unknown; issues: ConfigIssue[] } {
  // A byte-order mark (editors on Windows add one) is not part of the document.
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (extname(file).toLowerCase() === '.json') {
    try {
      return { value: JSON.parse(body), issues: [] };
    } catch (err) {
      return { value: undefined, issues: [{ path: '', message: `not valid JSON: ${(err as Error).message.split('\n')[0]}` }] };
    }
  }
  return parseYaml(body, (doc) =>
    visit(doc, {
      Scalar(_key, node) {
        if (node.type === Scalar.PLAIN && typeof node.value === 'string') {
          const typed = typedScalar(node.value, env);
          if (typed !== undefined) node.value = typed;
        }
      },
    }),
  );
}

/**
 * One YAML document's value (`<<` merge keys allowed), or its problems, one line each: syntax
 * errors, several documents in one text, more alias expansions than 100 (an alias bomb).
 * `prepare` may rewrite the parsed nodes first (env interpolation's typed scalars).
 */
export function parseYaml(text: string, prepare?: (doc: Document.Parsed) => void): { value: unknown; issues: ConfigIssue[] } {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true, merge: true });
  if (doc.errors.length > 0) {
    return {
      value: undefined,
      issues: doc.errors.map((e) => ({
        path: '',
        message:
          e.code === 'MULTIPLE_DOCS'
            ? 'holds several YAML documents (separated by ---); put everything in one'
            : `not valid YAML at line ${e.linePos?.[0]?.line ?? '?'}: ${e.message.split('\n')[0]}`,
      })),
    };
  }
  prepare?.(doc);
  try {
    return { value: doc.toJS({ maxAliasCount: 100 }) ?? {}, issues: [] };
  } catch (err) {
    return { value: undefined, issues: [{ path: '', message: `not accepted: ${(err as Error).message.split('\n')[0]} (more than 100 alias expansions)` }] };
  }
}

/**
 * The cross-field problems of a file that failed the schema, judged on its parts that pass.
 * A check that meets a shape it did not expect there costs only its own lines (the schema's
 * are reported all the same), never the exit-2 answer.
 */
function partIssues(value: Record<string, unknown>, registry: PluginRegistry): ConfigIssue[] {
  try {
    return checkConfig(configParts(value, registry), registry);
  } catch {
    return [];
  }
}

/**
 * Turns parsed text into a validated config: env interpolation, schema, cross-field checks.
 * Throws ConfigError with every problem found in one run: unset variables, the schema's
 * problems, then the cross-field checks', which also judge the parts of a failing file that
 * pass (parts.ts).
 */
export function validateConfig(
  file: string,
  raw: unknown,
  registry: PluginRegistry,
  env: NodeJS.ProcessEnv = process.env,
): TollgateConfig {
  const { value, issues: unset } = interpolate(raw, env);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(file, unset.length > 0 ? unset : [{ path: '', message: 'expected a mapping at the top level (gateway:, services:, plugins:, …)' }]);
  }
  const parsed = buildConfigSchema(registry).safeParse(value);
  if (!parsed.success || unset.length > 0) {
    // A field naming an unset variable is INVALID: its schema line would only repeat that.
    const where = new Set(unset.map((i) => i.path));
    const schema = parsed.success ? [] : zodIssues(parsed.error).filter((i) => !where.has(i.path));
    throw new ConfigError(file, [...unset, ...schema, ...partIssues(value as Record<string, unknown>, registry)]);
  }
  const issues = checkConfig(parsed.data, registry);
  if (issues.length > 0) throw new ConfigError(file, issues);
  return parsed.data;
}

/** Reads a config file's bytes. Throws ConfigError (→ exit 2) naming why it cannot be read. */
export async function readConfigFile(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new ConfigError(file, [{ path: '', message: `cannot read config: ${why}` }]);
  }
}

/** Parses and validates a config file's text (`file` names it in errors). Throws ConfigError. */
export function configFromText(file: string, text: string, registry: PluginRegistry, env: NodeJS.ProcessEnv = process.env): TollgateConfig {
  const { value, issues } = parseText(file, text, env);
  if (issues.length > 0) throw new ConfigError(file, issues);
  return validateConfig(file, value, registry, env);
}

/** Reads, parses and validates a config file. Throws ConfigError (→ exit 2). */
export async function loadConfigFile(file: string, registry: PluginRegistry, env: NodeJS.ProcessEnv = process.env): Promise<TollgateConfig> {
  return configFromText(file, (await readConfigFile(file)).toString('utf8'), registry, env);
}
