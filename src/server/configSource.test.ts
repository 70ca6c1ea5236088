import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtinRegistry } from '../plugins/index.js';
import { ConfigSource } from './configSource.js';

const version = (v: number): string =>
  `services:\n  - name: svc-${v}\n    url: http://127.0.0.1:9/\n    routes: [{ name: r${v}, paths: [/v${v}] }]\n`;
const hashOf = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 16);

describe('ConfigSource', () => {
  it('records the hash of the very bytes it applied while the file is being replaced', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-configsource-'));
    const file = join(dir, 'tollgate.yaml');
    await writeFile(file, version(0));
    const source = ConfigSource.fromFile(file, builtinRegistry(), {});

    // A writer replaces the file (write + rename, as a ConfigMap update does) as fast as it can
    // while the source reloads; every load must pair the config it returns with that file's hash,
    // or the poll would take a later edit as already applied and never apply it.
    let writing = true;
    const writer = (async () => {
      for (let v = 1; writing; v++) {
        await writeFile(`${file}.tmp`, version(v));
        await rename(`${file}.tmp`, file);
      }
    })();
    const mismatches: string[] = [];
    const seen = new Set<string>();
    try {
      for (let i = 0; i < 300; i++) {
        const config = await source.load(true);
        const name = config.services[0]!.name;
        seen.add(name);
        const v = Number(name.slice('svc-'.length));
        if (source.hash !== hashOf(version(v))) mismatches.push(`${name}: hash ${source.hash} is not its file's`);
      }
    } finally {
      writing = false;
      await writer;
    }
    expect(mismatches).toEqual([]);
    expect(seen.size).toBeGreaterThan(10); // the file did change under the loads
  });

  it('refuses an empty file on reload, naming the file and what to write instead', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-configsource-'));
    const file = join(dir, 'tollgate.yaml');
    await writeFile(file, version(1));
    const source = ConfigSource.fromFile(file, builtinRegistry(), {});
    await source.load();
    const applied = source.hash;
    await writeFile(file, '  \n');
    await expect(source.load(true)).rejects.toThrow(/the file is empty.*services: \[\]/s);
    expect(source.hash).toBe(applied);
  });
});
