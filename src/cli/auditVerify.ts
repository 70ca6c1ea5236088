import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { UserError } from '../core/errors.js';
import { GENESIS_HASH, checkLine } from '../plugins/audit-log/hashChain.js';
import { inChainOrder } from '../plugins/audit-log/rotation.js';

interface FileResult {
  lines: number;
  /** Line number (1-based) of the first broken line and why, or null when intact. */
  broken: { line: number; problem: string } | null;
  head: string | null;
  firstPrev: string | null;
}

/** Walks one file's chain, starting from `prevHash` (null: accept the first line's prev_hash as the anchor). */
async function verifyFile(file: string, prevHash: string | null): Promise<FileResult> {
  const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let n = 0;
  let prev = prevHash;
  let firstPrev: string | null = null;
  for await (const line of rl) {
    n++;
    if (line === '') {
      rl.close();
      return { lines: n, broken: { line: n, problem: 'empty line' }, head: prev, firstPrev };
    }
    const r = checkLine(line, prev);
    if (r.problem !== null) {
      rl.close();
      return { lines: n, broken: { line: n, problem: r.problem }, head: prev, firstPrev };
    }
    if (n === 1) firstPrev = (JSON.parse(line) as { prev_hash: string }).prev_hash;
    prev = r.hash;
  }
  return { lines: n, broken: null, head: prev, firstPrev };
}

/**
 * `tollgate audit verify FILE [FILE...]`: checks the hash chain of audit files written with
 * `tamper_evident: true` (src/plugins/audit-log/hashChain.ts). Several files are checked as one
 * chain, in rotation order whatever order they were given in (rotated ones by day and number,
 * then the current one). Exit 0 when intact;
 * exit 1 with `FILE:LINE: problem` for the first broken line.
 */
export async function auditVerifyCommand(given: string[]): Promise<void> {
  const files = inChainOrder(given);
  for (const f of files) {
    await access(f).catch(() => {
      throw new UserError(`${f}: no such file (pass the audit file written with tamper_evident: true)`);
    });
  }
  let prev: string | null = null;
  let total = 0;
  let anchor: string | null = null;
  for (const file of files) {
    let r: FileResult;
    try {
      r = await verifyFile(file, prev);
    } catch (err) {
      throw new UserError(`${file}: cannot read: ${(err as Error).message}`, 1);
    }
    if (r.broken) {
      process.stdout.write(`${file}:${r.broken.line}: hash chain broken: ${r.broken.problem}\n`);
      process.exitCode = 1;
      return;
    }
    anchor ??= r.firstPrev;
    total += r.lines;
    prev = r.head;
  }
  const from = anchor === GENESIS_HASH ? 'from the first record ever written (genesis)' : `continuing from prev_hash ${anchor ?? '-'}`;
  process.stdout.write(`${files.join(', ')}: ${total} records, hash chain intact ${from}; last hash ${prev ?? '-'}\n`);
}
