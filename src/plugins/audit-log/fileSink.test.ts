import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pino } from 'pino';
import { AuditFile, type FileSinkOptions } from './fileSink.js';
import { GENESIS_HASH, checkLine } from './hashChain.js';

const opts = (over: Partial<FileSinkOptions> = {}): FileSinkOptions => ({
  rotateSize: 0,
  rotateDaily: true,
  keep: 14,
  tamperEvident: true,
  bufferSize: 10_000,
  logger: pino({ level: 'silent' }),
  ...over,
});

const mkdirOf = (file: string): string => {
  mkdirSync(dirname(file), { recursive: true });
  return dirname(file);
};

const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');

/** Checks a sequence of files as one chain; returns the number of lines. */
function verifyChain(files: string[]): number {
  let prev: string | null = null;
  let n = 0;
  for (const f of files) {
    for (const l of lines(f)) {
      const r = checkLine(l, prev);
      expect(r.problem).toBeNull();
      prev = r.hash;
      n++;
    }
  }
  return n;
}

describe('AuditFile (in process, with a fake clock for the calendar only)', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-auditfile-'));
    path = join(dir, 'logs', 'audit.log');
  });
  afterEach(() => {
    vi.useRealTimers();
    rmSync(dir, { recursive: true, force: true });
  });

  it('rotates at the first write of a new UTC day; the chain continues into the new file', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-01-01T23:59:58Z'));
    const f = new AuditFile(path, opts());
    f.users = 1;
    await f.open();
    f.append({ n: 1 });
    f.append({ n: 2 });
    await f.flush(5000);
    vi.setSystemTime(new Date('2026-01-02T00:00:01Z'));
    f.append({ n: 3 });
    await f.flush(5000);
    f.users = 0;
    await f.close(5000);
    expect(readdirSync(join(dir, 'logs')).sort()).toEqual(['audit.log', 'audit.log.2026-01-01.1']);
    expect(lines(`${path}.2026-01-01.1`).map((l) => (JSON.parse(l) as { n: number }).n)).toEqual([1, 2]);
    expect(verifyChain([`${path}.2026-01-01.1`, path])).toBe(3);
    expect((JSON.parse(lines(`${path}.2026-01-01.1`)[0]!) as { prev_hash: string }).prev_hash).toBe(GENESIS_HASH);
  });

  it('rotates by size and keeps the newest `keep` rotated files', async () => {
    const f = new AuditFile(path, opts({ rotateSize: 1, keep: 2, rotateDaily: false }));
    f.users = 1;
    await f.open();
    for (let n = 1; n <= 5; n++) {
      f.append({ n });
      await f.flush(5000);
    }
    f.users = 0;
    await f.close(5000);
    const rotated = readdirSync(join(dir, 'logs')).filter((n) => n !== 'audit.log').sort();
    expect(rotated.map((n) => n.replace(/\d{4}-\d{2}-\d{2}/, 'DAY'))).toEqual(['audit.log.DAY.3', 'audit.log.DAY.4']);
    expect(verifyChain([...rotated.map((n) => join(dir, 'logs', n)), path])).toBe(3);
  });

  it('a new writer continues the chain of the newest rotated file when the current one is empty, and of a crash-cut file', async () => {
    const a = new AuditFile(path, opts({ rotateSize: 1, rotateDaily: false }));
    a.users = 1;
    await a.open();
    a.append({ n: 1 });
    await a.flush(5000);
    a.append({ n: 2 }); // rotates the first file away, then writes
    await a.flush(5000);
    a.users = 0;
    await a.close(5000);
    const rotated = readdirSync(join(dir, 'logs')).filter((n) => n !== 'audit.log');
    writeFileSync(path, ''); // as if the process stopped right after a rotation
    const b = new AuditFile(path, opts({ rotateDaily: false }));
    b.users = 1;
    await b.open();
    b.append({ n: 3 });
    b.users = 0; // as releaseSinks does: the last user lets go, so close() closes the file
    await b.close(5000);
    expect(verifyChain([join(dir, 'logs', rotated[0]!), path])).toBe(2);

    writeFileSync(path, `${readFileSync(path, 'utf8')}{"n":4,"cut`); // a crash mid-line
    const c = new AuditFile(path, opts({ rotateDaily: false }));
    c.users = 1;
    await c.open();
    c.append({ n: 5 });
    c.users = 0;
    await c.close(5000);
    const text = lines(path);
    expect(text[1]).toBe('{"n":4,"cut');
    expect(checkLine(text[2]!, (JSON.parse(text[0]!) as { hash: string }).hash).problem).toBeNull();
  });

  it('reloads while it rotates (concurrent opens) lose, reorder or leak nothing; the chain holds', async () => {
    // Thread-pool writes (slowWriteMs -1), so rotations take several turns, as on a slow disk.
    const o = opts({ rotateSize: 8_000, keep: 100_000, slowWriteMs: -1 });
    const f = new AuditFile(path, o);
    await f.open();
    let n = 0;
    let stop = false;
    const writer = (async () => {
      while (!stop) {
        for (let i = 0; i < 10; i++) f.append({ n: n++, pad: 'x'.repeat(100) });
        await new Promise((r) => setImmediate(r));
      }
    })();
    // What acquireFile does on a reload: configure, then open (the handler's first use).
    for (let r = 0; r < 120; r++) {
      f.configure(o);
      await f.open();
      await new Promise((res) => setTimeout(res, 1));
    }
    stop = true;
    await writer;
    await f.close(5000);
    const rotated = readdirSync(dirname(path)).filter((x) => x !== 'audit.log').sort((a, b) => Number(a.split('.').pop()) - Number(b.split('.').pop()));
    expect(rotated.length).toBeGreaterThan(5);
    const files = [...rotated.map((x) => join(dirname(path), x)), path];
    expect(verifyChain(files)).toBe(n);
    const order = files.flatMap((x) => lines(x).map((l) => (JSON.parse(l) as { n: number }).n));
    expect(order).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  it('switching tamper_evident on with lines still queued: they end the old file, the new file is chained from line 1', async () => {
    const f = new AuditFile(path, opts({ tamperEvident: false }));
    f.users = 1;
    await f.open();
    for (let i = 0; i < 5; i++) f.append({ plain: i });
    await f.flush(5000);
    for (let i = 5; i < 15; i++) f.append({ plain: i }); // queued, not yet written
    f.configure(opts({ tamperEvident: true }));
    for (let i = 0; i < 5; i++) f.append({ chained: i });
    f.users = 0;
    await f.close(5000);
    const rotated = readdirSync(dirname(path)).filter((x) => x !== 'audit.log');
    expect(rotated).toHaveLength(1);
    expect(lines(join(dirname(path), rotated[0]!)).map((l) => (JSON.parse(l) as { plain: number }).plain)).toEqual(Array.from({ length: 15 }, (_, i) => i));
    expect(verifyChain([path])).toBe(5);
  });

  it('a file truncated by another process (logrotate copytruncate) is written on at its new end, no zero bytes', async () => {
    const warnings: string[] = [];
    const f = new AuditFile(path, opts({ tamperEvident: false, logger: pino({ level: 'warn' }, { write: (l: string) => void warnings.push(l) }) }));
    f.users = 1; // a handler holds it (acquireFile): the file stays open between batches
    await f.open();
    for (let i = 0; i < 50; i++) f.append({ before: i, pad: 'y'.repeat(100) });
    await f.flush(5000);
    writeFileSync(path, ''); // what copytruncate does after copying
    for (let i = 0; i < 3; i++) f.append({ after: i });
    f.users = 0;
    await f.close(5000);
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain('\0');
    expect(lines(path).map((l) => JSON.parse(l) as { after: number })).toEqual([{ after: 0 }, { after: 1 }, { after: 2 }]);
    expect(warnings.some((w) => w.includes('truncated by another process'))).toBe(true);
  });

  it('a file deleted, or moved away with a new one created (logrotate create), is reopened at its path: later records go there, chain intact', async () => {
    const warnings: string[] = [];
    const f = new AuditFile(path, opts({ pathCheckMs: 0, logger: pino({ level: 'warn' }, { write: (l: string) => void warnings.push(l) }) }));
    f.users = 1; // a handler holds it (acquireFile): the file stays open between batches
    await f.open();
    const batch = async (n: number, tag: string) => {
      for (let i = 0; i < n; i++) f.append({ tag, i });
      await f.flush(5000);
    };
    await batch(5, 'first');
    rmSync(path);
    await batch(3, 'after-delete');
    expect(lines(path).map((l) => (JSON.parse(l) as { tag: string }).tag)).toEqual(['after-delete', 'after-delete', 'after-delete']);
    renameSync(path, `${path}.1`);
    writeFileSync(path, '');
    await batch(4, 'after-move');
    f.users = 0;
    await f.close(5000);
    expect(lines(`${path}.1`)).toHaveLength(3);
    expect(lines(path).map((l) => (JSON.parse(l) as { tag: string }).tag)).toEqual(['after-move', 'after-move', 'after-move', 'after-move']);
    // The moved file and the new one are one chain (the deleted lines are gone with their file).
    expect(verifyChain([`${path}.1`, path])).toBe(7);
    expect(warnings.filter((w) => w.includes('moved or deleted by another process'))).toHaveLength(2);
  });

  it('a slow batch write switches the sink to thread-pool writes: warned once, nothing lost, chain intact', async () => {
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
    // Every write counts as slow: the first batch goes on the main thread, the rest through the pool.
    const f = new AuditFile(path, opts({ logger, slowWriteMs: -1 }));
    await f.open();
    for (let batch = 0; batch < 5; batch++) {
      for (let i = 0; i < 20; i++) f.append({ batch, i });
      await f.flush(5000);
    }
    expect(verifyChain([path])).toBe(100);
    expect(lines(path).map((l) => (JSON.parse(l) as { batch: number; i: number }).batch * 20 + (JSON.parse(l) as { i: number }).i)).toEqual(
      Array.from({ length: 100 }, (_, n) => n),
    );
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!)).toMatchObject({ msg: 'audit file write was slow; writing through the thread pool for a minute', path });
    await f.close(5000);
  });

  it('a record that arrives after the last user closed the file reopens it; flushSync writes what is queued at exit', async () => {
    const f = new AuditFile(path, opts({ tamperEvident: false }));
    f.users = 1;
    await f.open();
    f.append({ n: 1 });
    f.users = 0;
    await f.close(5000);
    f.append({ n: 2 });
    await f.flush(5000);
    f.append({ n: 3 });
    f.flushSync();
    expect(lines(path)).toEqual(['{"n":1}', '{"n":2}', '{"n":3}']);
  });

  it('writes every line byte-exact and in order: multi-byte text, batches larger than the batch buffer, the overflow path, a crash-cut tail', async () => {
    writeFileSync(join(mkdirOf(path), 'audit.log'), '{"cut":');
    const f = new AuditFile(path, opts({ tamperEvident: false, bufferSize: 50 }));
    f.users = 1;
    await f.open();
    const expected: string[] = [];
    for (let i = 0; i < 3000; i++) {
      // 1-, 2-, 3- and 4-byte UTF-8, and every 500th line alone larger than a 128 KiB batch
      const text = i % 500 === 7 ? 'ü€😀'.repeat(40_000) : `line ${i} ü€😀 ${'x'.repeat(i % 300)}`;
      f.append({ i, text });
      expected.push(JSON.stringify({ i, text }));
      if (i % 400 === 0) await f.flush(5000);
    }
    f.users = 0;
    await f.close(5000);
    expect(readFileSync(path, 'utf8')).toBe(`{"cut":\n${expected.join('\n')}\n`);
  });

  it('a file that cannot be written (disk full): memory stays bounded, the overflow goes to stderr whole, not lost', async () => {
    const spilled: string[] = [];
    const full = new AuditFile('/dev/full', opts({ tamperEvident: false, bufferSize: 10, spill: (buf) => spilled.push(buf.toString()) }));
    full.users++;
    full.append({ request_id: 'r0' });
    await new Promise((r) => setTimeout(r, 100)); // opened, written, refused: ENOSPC
    expect(full.writeErrors).toBeGreaterThan(0);
    for (let i = 1; i < 200; i++) full.append({ request_id: `r${i}` });
    expect(full.pendingRecords()).toBeLessThanOrEqual(20);
    const out = spilled.join('').split('\n').filter((l) => l !== '');
    const kept = out.map((l) => (JSON.parse(l) as { request_id: string }).request_id);
    expect(kept.length + full.pendingRecords()).toBe(200);
    expect(kept.slice(0, 3)).toEqual(['r1', 'r2', 'r3']); // in order; r0 is the batch in flight, retried every second
    expect(full.writeErrors).toBeGreaterThan(0);
    full.users--;
    await full.close(100);
  });
});

