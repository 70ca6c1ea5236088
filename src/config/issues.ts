import type { z } from 'zod';

/**
 * A zod issue in the words config errors use everywhere (`unknown key 'x'`, `is required`, a
 * quoting hint): for the config file's own fields and for each plugin's `config` alike.
 */
export function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
  }
  if (issue.code === 'invalid_type' && issue.message.includes('received undefined')) return `is required (${issue.expected})`;
  // A record key that fails its own schema (a header name): that schema's words, not "Invalid key in record".
  if (issue.code === 'invalid_key' && issue.issues.length > 0) return describeIssue(issue.issues[0]!);
  // `admin_token: 0123` or `admin_token: ${TOKEN}` with TOKEN=0123: an unquoted scalar is typed
  // as YAML types it, so the fix is quoting.
  if (issue.code === 'invalid_type' && issue.expected === 'string' && /received (number|boolean|null)/.test(issue.message)) {
    return `${issue.message}; quote the value (or the \${VAR} reference: "\${VAR}") to keep it a string`;
  }
  return issue.message;
}
