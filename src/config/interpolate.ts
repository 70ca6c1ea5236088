import { parse as parseYamlScalar } from 'yaml';
import { formatPath, type ConfigIssue } from './load.js';
import { INVALID } from './parts.js';

/**
 * `${VAR}` and `${VAR:-default}` in config values, replaced from the environment (SPEC §3).
 * `$${` writes a literal `${`. A variable that is unset (or empty, with `:-`) and has no default
 * is an error naming the field. Substituted text stays a string, except an unquoted YAML scalar
 * that is exactly one reference (`minute: ${LIMIT:-100}`), which is typed as if written there
 * (see typedScalar); quote it (`"${TOKEN}"`) to keep a string.
 */
const REF = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}/g;
const WHOLE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}$/;

function lookup(env: NodeJS.ProcessEnv, name: string, op: string | undefined, fallback: string | undefined): string | undefined {
  const v = env[name];
  if (op === ':-') return v === undefined || v === '' ? fallback : v;
  if (op === '-') return v === undefined ? fallback : v;
  return v;
}

/** Replaces references in one string; `missing` collects unset variable names. */
export function interpolateString(s: string, env: NodeJS.ProcessEnv, missing: string[]): string {
  if (!s.includes('${')) return s;
  return s.replace(REF, (match, name: string | undefined, op: string | undefined, fallback: string | undefined) => {
    if (match === '$${') return '${';
    const v = lookup(env, name!, op, fallback);
    if (v === undefined) {
      missing.push(name!);
      return match;
    }
    return v;
  });
}

/**
 * For an unquoted scalar that is exactly `${VAR}`: the value typed as YAML would type it
 * (number, boolean, null), or undefined to leave it to the string pass (text, and an empty
 * value, which stays '' rather than becoming null).
 */
export function typedScalar(text: string, env: NodeJS.ProcessEnv): unknown {
  const m = WHOLE.exec(text);
  if (!m) return undefined;
  const v = lookup(env, m[1]!, m[2], m[3]);
  // Strings (and empty values) are left to the string pass, which substitutes them once: the
  // value is never read for references itself (a secret may contain `${` or `$${`).
  if (v === undefined || v === '') return undefined;
  try {
    const typed: unknown = parseYamlScalar(v);
    return typeof typed === 'number' || typeof typed === 'boolean' || typed === null ? typed : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Walks a parsed config tree and interpolates every string value. A string naming an unset
 * variable becomes INVALID (its issue names the field), so that the rest is still validated.
 */
export function interpolate(value: unknown, env: NodeJS.ProcessEnv): { value: unknown; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const walk = (v: unknown, path: PropertyKey[]): unknown => {
    if (typeof v === 'string') {
      const missing: string[] = [];
      const out = interpolateString(v, env, missing);
      for (const name of missing) {
        issues.push({ path: formatPath(path), message: `environment variable ${name} is not set (use \${${name}:-default} for a default)` });
      }
      // Not a value: the schema and the cross-field checks do not judge it (config/parts.ts).
      return missing.length > 0 ? INVALID : out;
    }
    if (Array.isArray(v)) return v.map((item, i) => walk(item, [...path, i]));
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, item] of Object.entries(v)) out[k] = walk(item, [...path, k]);
      return out;
    }
    return v;
  };
  const out = walk(value, []);
  return { value: out, issues };
}
