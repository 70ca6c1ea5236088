/**
 * A small Dockerfile reader for the image tests (no Docker daemon here): instructions with
 * line continuations joined and comments dropped, grouped into stages, ARG defaults substituted
 * in FROM lines.
 */

export interface Instruction {
  op: string;
  args: string;
}

export interface Stage {
  name: string | null;
  from: string;
  instructions: Instruction[];
}

export function parseDockerfile(text: string): { args: Record<string, string>; stages: Stage[] } {
  const logical: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (current === '' && /^\s*#/.test(line)) continue;
    if (current !== '' && /^\s*#/.test(line)) continue; // comment inside a continuation
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    current += line;
    if (current.trim() !== '') logical.push(current.trim());
    current = '';
  }
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const l of logical) {
    const m = /^(\w+)\s+(.*)$/s.exec(l);
    if (!m) continue;
    const op = m[1]!.toUpperCase();
    const rest = m[2]!.replace(/\s+/g, ' ').trim();
    if (op === 'ARG' && stages.length === 0) {
      const [k, v] = rest.split('=');
      args[k!] = v ?? '';
      continue;
    }
    if (op === 'FROM') {
      const f = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest)!;
      const from = f[1]!.replace(/\$\{?(\w+)\}?/g, (_, k: string) => args[k] ?? '');
      stages.push({ name: f[2] ?? null, from, instructions: [] });
      continue;
    }
    stages.at(-1)?.instructions.push({ op, args: rest });
  }
  return { args, stages };
}

/** `COPY [--from=x] [--chown=…] SRC… DEST` → { from, sources, dest }. */
export function parseCopy(args: string): { from: string | null; sources: string[]; dest: string } {
  const words = args.split(' ');
  let from: string | null = null;
  while (words[0]?.startsWith('--')) {
    const flag = words.shift()!;
    if (flag.startsWith('--from=')) from = flag.slice('--from='.length);
  }
  const dest = words.pop()!;
  return { from, sources: words, dest };
}

/** JSON (exec) form of ENTRYPOINT/CMD, or null for the shell form. */
export function execForm(args: string): string[] | null {
  try {
    const v: unknown = JSON.parse(args);
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : null;
  } catch {
    return null;
  }
}

/**
 * Whether Node `major`.0.0 satisfies an npm engines range of the simple kinds found in
 * package-lock.json (`>=20.19`, `>= 0.8`, `^16 || ^18 || >=20`, `20.x || 22.x`, `*`).
 * Throws on a form it does not know, so a new kind of range is looked at rather than skipped.
 */
export function nodeMajorSatisfies(major: number, range: string): boolean {
  const v = [major, 0, 0];
  const cmp = (a: number[], b: number[]) => {
    for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
    return 0;
  };
  const ver = (s: string) => s.replace(/\.x$/, '').split('.').map(Number);
  return range.split('||').some((alt) => {
    const comparators = alt.trim().replace(/([<>]=?|\^|~)\s+/g, '$1').split(/\s+/).filter(Boolean);
    return comparators.every((c) => {
      if (c === '*' || c === 'x') return true;
      const m = /^(>=|<=|>|<|\^|~|=)?(\d+(?:\.(?:\d+|x))*)$/.exec(c);
      if (!m) throw new Error(`unknown engines range form "${c}" in "${range}"`);
      const target = ver(m[2]!);
      const op = m[1] ?? (m[2]!.includes('x') || target.length < 3 ? 'prefix' : '=');
      switch (op) {
        case '>=':
          return cmp(v, target) >= 0;
        case '>':
          return cmp(v, target) > 0;
        case '<=':
          return cmp(v, target) <= 0;
        case '<':
          return cmp(v, target) < 0;
        case '^':
          return v[0] === target[0] && cmp(v, target) >= 0;
        case '~':
          return v[0] === target[0] && (target.length < 2 || v[1] === target[1]) && cmp(v, target) >= 0;
        case 'prefix':
          return target.every((n, i) => v[i] === n);
        default:
          return cmp(v, target) === 0;
      }
    });
  });
}
