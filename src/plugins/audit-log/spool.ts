import { mkdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The on-disk spool of the HTTP sink: one file per undelivered batch,
 * `<seq, 12 digits>-<batch id>.json`, holding exactly the JSON array that is POSTed. Files are
 * written to `*.tmp` and renamed, so a crash never leaves a half batch under a real name.
 * Batches the endpoint refuses for good (4xx other than 408/429) move to `rejected/`.
 */
export interface SpooledBatch {
  seq: number;
  id: string;
  file: string;
}

const NAME = /^(\d{12})-([0-9a-f-]{36})\.json$/;

export class Spool {
  constructor(readonly dir: string) {}

  private nameOf(seq: number, id: string): string {
    return join(this.dir, `${String(seq).padStart(12, '0')}-${id}.json`);
  }

  /** Creates the directory and lists what a previous run left, oldest first. */
  async load(): Promise<SpooledBatch[]> {
    await mkdir(join(this.dir, 'rejected'), { recursive: true });
    const out: SpooledBatch[] = [];
    for (const name of await readdir(this.dir)) {
      const m = NAME.exec(name);
      if (m) out.push({ seq: Number(m[1]), id: m[2]!, file: join(this.dir, name) });
      else if (name.endsWith('.tmp')) await rename(join(this.dir, name), join(this.dir, 'rejected', name)).catch(() => undefined);
    }
    return out.sort((a, b) => a.seq - b.seq);
  }

  async write(seq: number, id: string, body: string): Promise<string> {
    const file = this.nameOf(seq, id);
    await mkdir(this.dir, { recursive: true });
    try {
      await writeFile(`${file}.tmp`, body, { mode: 0o640 });
    } catch (err) {
      await unlink(`${file}.tmp`).catch(() => undefined); // a partial file left by a full disk
      throw err;
    }
    await rename(`${file}.tmp`, file);
    return file;
  }

  /** The overflow and process-exit path. */
  writeSync(seq: number, id: string, body: string): string {
    const file = this.nameOf(seq, id);
    mkdirSync(this.dir, { recursive: true });
    try {
      writeFileSync(`${file}.tmp`, body, { mode: 0o640 });
    } catch (err) {
      try {
        unlinkSync(`${file}.tmp`);
      } catch {
        /* never created */
      }
      throw err;
    }
    renameSync(`${file}.tmp`, file);
    return file;
  }

  read(file: string): Promise<string> {
    return readFile(file, 'utf8');
  }

  async remove(file: string): Promise<void> {
    await unlink(file).catch(() => undefined);
  }

  /** Keeps a refused batch for a human: moves its file, or writes its body, under rejected/. */
  async reject(seq: number, id: string, file: string | null, body: string | null): Promise<string> {
    const target = join(this.dir, 'rejected', `${String(seq).padStart(12, '0')}-${id}.json`);
    await mkdir(join(this.dir, 'rejected'), { recursive: true });
    if (file) await rename(file, target);
    else await writeFile(target, body ?? '[]', { mode: 0o640 });
    return target;
  }
}
