// Writes docs/configuration.md from the schemas (`npm run docs:config`).
import { writeFileSync } from 'node:fs';
import { renderConfigReference } from '../src/config/reference.js';
import { builtinRegistry } from '../src/plugins/index.js';

writeFileSync('docs/configuration.md', renderConfigReference(builtinRegistry()));
