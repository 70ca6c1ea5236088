import { open, readdir, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { GENESIS_HASH } from './hashChain.js';

/**
 * Rotated audit files are named `<path>.<YYYY-MM-DD>.<n>`: the UTC day the file was started and
 * a counter within that day (1, 2, … for size rotations). They sort chronologically by
 * (day, n); `keep` decides how many of them stay.
 */
const ROTATED = /^(\d{4}-\d{2}-\d{2})\.(\d+)$/;

export function utcDay(ms: number = Date.now()): string {
  return new Date(ms).toISOString().slice(0, 10);
}

interface Rotated {
  file: string;
  day: string;
  n: number;
}

/**
 * Files of audit logs in chain order: per log, its rotated files by (day, n), then the current
 * one. A shell glob (`audit.log.*`) sorts `.10` before `.2`; this does not. Logs keep the order
 * they first appear in.
 */
export function inChainOrder(files: readonly string[]): string[] {
  const keyed = files.map((file, i) => {
    const m = /^(.*)\.(\d{4}-\d{2}-\d{2})\.(\d+)$/.exec(file);
    return m ? { file, base: m[1]!, day: m[2]!, n: Number(m[3]), i } : { file, base: file, day: '\uffff', n: 0, i };
  });
  const firstSeen = new Map<string, number>();
  for (const k of keyed) if (!firstSeen.has(k.base)) firstSeen.set(k.base, k.i);
  keyed.sort((a, b) => firstSeen.get(a.base)! - firstSeen.get(b.base)! || (a.day === b.day ? a.n - b.n : a.day < b.day ? -1 : 1));
  return keyed.map((k) => k.file);
}

/** The rotated siblings of `path`, oldest first. */
export async function rotatedFiles(path: string): Promise<Rotated[]> {
  const dir = dirname(path);
  const base = `${basename(path)}.`;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out: Rotated[] = [];
  for (const name of names) {
    if (!name.startsWith(base)) continue;
    const m = ROTATED.exec(name.slice(base.length));
    if (m) out.push({ file: join(dir, name), day: m[1]!, n: Number(m[2]) });
  }
  return out.sort((a, b) => (a.day === b.day ? a.n - b.n : a.day < b.day ? -1 : 1));
}

/** The name the current file gets when it is rotated now. */
export async function nextRotatedName(path: string, day: string): Promise<string> {
  const same = (await rotatedFiles(path)).filter((r) => r.day === day);
  const n = same.reduce((max, r) => Math.max(max, r.n), 0) + 1;
  return `${path}.${day}.${n}`;
}

/** Deletes the oldest rotated files beyond `keep`. */
export async function pruneRotated(path: string, keep: number): Promise<void> {
  const all = await rotatedFiles(path);
  for (const r of all.slice(0, Math.max(0, all.length - keep))) await unlink(r.file).catch(() => undefined);
}

/** Reads the last complete line of a file (up to 1 MiB back); null when there is none. */
export async function lastLine(file: string): Promise<{ line: string | null; size: number; endsWithNewline: boolean; mtimeMs: number } | null> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch {
    return null;
  }
  try {
    const st = await fh.stat();
    const size = st.size;
    if (size === 0) return { line: null, size, endsWithNewline: true, mtimeMs: st.mtimeMs };
    const len = Math.min(size, 1024 * 1024);
    const buf = Buffer.alloc(len);
    await fh.read(buf, 0, len, size - len);
    const text = buf.toString('utf8');
    const endsWithNewline = text.endsWith('\n');
    const lines = text.split('\n');
    lines.pop(); // '' after the final newline, or a partial last line
    const line = [...lines].reverse().find((l) => l.trim() !== '') ?? null;
    return { line, size, endsWithNewline, mtimeMs: st.mtimeMs };
  } finally {
    await fh.close();
  }
}

/** The `hash` of a line, or null when it has none. */
export function hashOfLine(line: string | null): string | null {
  if (line === null) return null;
  try {
    const v = JSON.parse(line) as { hash?: unknown };
    return typeof v.hash === 'string' && /^[0-9a-f]{64}$/.test(v.hash) ? v.hash : null;
  } catch {
    return null;
  }
}

/**
 * Where the chain of `path` stands: the last hash of the current file, else of the newest
 * rotated file, else genesis. `unchained` is true when the current file ends with a line that
 * has no hash (tamper_evident was off): such a file is rotated before chained lines follow.
 */
export async function chainHead(path: string): Promise<{ head: string; unchained: boolean }> {
  const cur = await lastLine(path);
  if (cur?.line) {
    const h = hashOfLine(cur.line);
    return h ? { head: h, unchained: false } : { head: GENESIS_HASH, unchained: true };
  }
  const rotated = await rotatedFiles(path);
  for (const r of rotated.reverse()) {
    const h = hashOfLine((await lastLine(r.file))?.line ?? null);
    if (h) return { head: h, unchained: false };
  }
  return { head: GENESIS_HASH, unchained: false };
}
