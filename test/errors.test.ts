import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

describe('error codes', () => {
  it('documents every TG_* code used in src/ in docs/errors.md', () => {
    const doc = readFileSync('docs/errors.md', 'utf8');
    const used = new Set<string>();
    for (const file of sources('src')) for (const m of readFileSync(file, 'utf8').matchAll(/'(TG_[A-Z_]+)'/g)) used.add(m[1]!);
    expect(used.size).toBeGreaterThan(10);
    const missing = [...used].filter((code) => !doc.includes(`\`${code}\``));
    expect(missing).toEqual([]);
  });
});
