import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { renderConfigReference } from '../src/config/reference.js';
import { builtinRegistry } from '../src/plugins/index.js';

describe('docs/configuration.md', () => {
  it('is the current rendering of the schemas (run `npm run docs:config`)', () => {
    const registry = builtinRegistry();
    const doc = readFileSync('docs/configuration.md', 'utf8');
    expect(doc).toBe(renderConfigReference(registry));
    for (const name of registry.names()) expect(doc).toContain(`### \`${name}\``);
    expect(doc).toContain('`max_body_size`');
  });
});
