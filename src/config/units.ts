import { z } from 'zod';

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3 };
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `16m`, `512k`, `1048576` into bytes; null when malformed. */
export function parseSize(value: string | number): number | null {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : null;
  const m = /^\s*(\d+)\s*([a-zA-Z]*)\s*$/.exec(value);
  if (!m) return null;
  const unit = SIZE_UNITS[m[2]!.toLowerCase()];
  return unit === undefined ? null : Number(m[1]) * unit;
}

/** Parses `30s`, `500ms`, `2m`, `1h`, or a bare number of `defaultUnit`s into milliseconds. */
export function parseDuration(value: string | number, defaultUnit: 'ms' | 's' = 's'): number | null {
  if (typeof value === 'number') return value >= 0 && Number.isFinite(value) ? value * DURATION_UNITS[defaultUnit]! : null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!m) return null;
  return Number(m[1]) * DURATION_UNITS[m[2] ?? defaultUnit]!;
}

/** A size field: bytes as a number, or a string like `16m` (k, m, g; powers of 1024). Output: bytes. */
export const zSize = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const n = parseSize(v);
  if (n === null) {
    ctx.addIssue({ code: 'custom', message: `expected a size such as 16m, 512k or a number of bytes, got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return n;
});

/** A duration field: seconds as a number, or a string like `30s`, `500ms`, `2m`. Output: milliseconds. */
export const zSeconds = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const n = parseDuration(v, 's');
  if (n === null) {
    ctx.addIssue({ code: 'custom', message: `expected a duration such as 30s, 500ms, 2m or a number of seconds, got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return n;
});

/** RFC 9110 field-name characters (a token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** A config value that names an HTTP header; `example` goes into the error. */
export const zHeaderName = (example: string) => z.string().regex(HEADER_NAME, `expected an HTTP header name such as ${example}`);
