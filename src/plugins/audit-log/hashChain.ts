import { createHash } from 'node:crypto';

/**
 * The tamper-evident hash chain of audit files (`tamper_evident: true`, SPEC §8).
 *
 * Every line carries `prev_hash` (the previous line's `hash`; 64 zeros for the first record ever
 * written to a path) and `hash` = lower-case hex SHA-256 of the UTF-8 bytes of the record
 * **without its `hash` member, `prev_hash` included**, serialized canonically with the JSON
 * Canonicalization Scheme (RFC 8785: object members sorted by UTF-16 code units, no whitespace,
 * ECMAScript number and string serialization). Canonical form means a log shipper that
 * re-serializes the JSON (other key order, spacing) does not break verification; a change to
 * any value does. The chain continues across rotated files: a new file's first `prev_hash` is
 * the last `hash` of the file before it.
 */
export const GENESIS_HASH = '0'.repeat(64);

const HEX64 = /^[0-9a-f]{64}$/;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** RFC 8785 canonical JSON text of a JSON value. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('canonical JSON has no representation for a non-finite number');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const obj = value as Record<string, Json | undefined>;
    // Default sort compares UTF-16 code units, which is what RFC 8785 §3.2.3 asks for.
    const keys = Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
  }
  throw new TypeError(`canonical JSON has no representation for a ${typeof value}`);
}

/** SHA-256 (hex) of a record's canonical form; `record` must hold `prev_hash` and no `hash`. */
export function recordHash(record: object): string {
  return createHash('sha256').update(canonicalJson(record), 'utf8').digest('hex');
}

/**
 * Adds `prev_hash` and `hash` to a record and returns the JSON line (without newline) plus the
 * new chain head. The line keeps the record's own field order, `prev_hash` and `hash` last.
 */
export function sealRecord(record: object, prevHash: string): { line: string; hash: string } {
  const chained = { ...record, prev_hash: prevHash };
  const hash = recordHash(chained);
  const json = JSON.stringify(chained);
  return { line: `${json.slice(0, -1)},"hash":"${hash}"}`, hash };
}

/** What is wrong with one line of a chained file, or null when it links to `prevHash`. */
export function checkLine(line: string, prevHash: string | null): { problem: string | null; hash: string | null } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return { problem: 'not a JSON object (truncated or edited line)', hash: null };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return { problem: 'not a JSON object', hash: null };
  const { hash, ...rest } = parsed as Record<string, unknown>;
  const prev = rest.prev_hash;
  if (typeof hash !== 'string' || !HEX64.test(hash)) return { problem: 'no valid "hash" field (was tamper_evident on?)', hash: null };
  if (typeof prev !== 'string' || !HEX64.test(prev)) return { problem: 'no valid "prev_hash" field', hash: null };
  let actual: string;
  try {
    actual = recordHash(rest);
  } catch (err) {
    return { problem: (err as Error).message, hash: null };
  }
  if (actual !== hash) return { problem: 'content does not match its hash (the line was altered)', hash };
  if (prevHash !== null && prev !== prevHash) {
    return { problem: 'prev_hash does not match the previous line\'s hash (a line was removed, inserted or reordered, or the previous line was altered and re-hashed)', hash };
  }
  return { problem: null, hash };
}
