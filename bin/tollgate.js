#!/usr/bin/env node
// The `tollgate` command: runs the compiled CLI (npm ci builds it through the `prepare` script).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const main = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
if (!existsSync(main)) {
  console.error('tollgate: dist/ is missing; run `npm run build` (npm ci runs it for you)');
  process.exit(1);
}
await import(pathToFileURL(main).href);
