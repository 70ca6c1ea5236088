import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './workspace.js';

/** Reading docs/deployment.md's shell blocks, for the tests that hold the guide to its word. */

export const GUIDE = readFileSync(join(ROOT, 'docs/deployment.md'), 'utf8');
export const PRODUCTION = 'deploy/kubernetes/overlays/production';

/** The guide's bash blocks, as commands: continuations joined, comments dropped, `$O` expanded. */
export function guideCommands(markdown = GUIDE): string[] {
  const blocks = [...markdown.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const commands: string[] = [];
  for (const block of blocks) {
    // Lines end at a newline outside quotes that no backslash continues.
    let line = '';
    let quote: string | null = null;
    const flush = () => {
      const text = line.trim();
      if (text) commands.push(text.replace(/\s+/g, ' ').replace(/\$O\b/g, PRODUCTION));
      line = '';
    };
    for (let i = 0; i < block.length; i++) {
      const ch = block[i]!;
      if (quote) {
        if (ch === quote) quote = null;
        line += ch;
      } else if (ch === '\\' && block[i + 1] === '\n') {
        line += ' ';
        i++;
      } else if (ch === '\n') {
        flush();
      } else if (ch === '#' && /(^|\s)$/.test(line)) {
        while (i + 1 < block.length && block[i + 1] !== '\n') i++; // a comment
      } else {
        if (ch === "'" || ch === '"') quote = ch;
        line += ch;
      }
    }
    flush();
  }
  return commands;
}

/** Simple commands: split at `|`, `&&` and `;` outside quotes (and `$(…)` unwrapped). */
export function simpleCommands(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote) {
      if (ch === quote) quote = null;
      cur += ch;
      continue;
    }
    if (ch === "'" || ch === '"') {
      quote = ch;
      cur += ch;
      continue;
    }
    if (ch === '|' || ch === ';' || (ch === '&' && line[i + 1] === '&')) {
      out.push(cur);
      cur = '';
      if (ch === '&') i++;
      continue;
    }
    cur += ch;
  }
  out.push(cur);
  return out
    .flatMap((c) => {
      const inner = /\$\((.*)\)/.exec(c);
      return inner ? [c.replace(inner[0], 'SUBST'), ...simpleCommands(inner[1]!)] : [c];
    })
    .map((c) => c.trim().replace(/^\w+=\S*\s+/, '').replace(/^\w+=/, ''))
    .filter(Boolean);
}

/** Shell words (quotes removed; enough for the guide's commands). */
export function words(command: string): string[] {
  return [...command.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

