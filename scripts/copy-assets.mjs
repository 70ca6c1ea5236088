// Copies non-TypeScript runtime assets (Redis Lua scripts, …) from src/ into dist/ after tsc.
import { cpSync, readdirSync, statSync, mkdirSync } from 'node:fs';
import { join, dirname, relative } from 'node:path';

const ASSET = /\.(lua|json|html)$/;
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== '__fixtures__') walk(p);
    } else if (ASSET.test(name)) {
      const out = join('dist', relative('src', p));
      mkdirSync(dirname(out), { recursive: true });
      cpSync(p, out);
    }
  }
}
walk('src');
