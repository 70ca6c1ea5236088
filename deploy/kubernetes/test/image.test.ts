import { describe, expect, test } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from './workspace.js';
import { execForm, nodeMajorSatisfies, parseCopy, parseDockerfile, type Stage } from './dockerfile.js';

/**
 * The Dockerfile cannot be built here (no Docker daemon), so its properties are checked from
 * the file and the repository: multi-stage, production dependencies only, native modules built
 * on the runtime's own base image, a numeric non-root user, no HEALTHCHECK, the bin as
 * ENTRYPOINT, a Node major every production dependency accepts, a build context holding every
 * COPY source, and a runtime import graph that needs no devDependency.
 */

const dockerfile = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  bin: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  engines: { node: string };
  scripts: Record<string, string>;
};
const final = dockerfile.stages.at(-1)!;
const stage = (name: string) => dockerfile.stages.find((s) => s.name === name)!;
const runs = (s: Stage) => s.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
const copies = (s: Stage) => s.instructions.filter((i) => i.op === 'COPY').map((i) => parseCopy(i.args));
/** The stage whose COPY puts `dest` (relative to WORKDIR /app) into the final image. */
const copiedFrom = (target: string) =>
  copies(final).find((c) => {
    const dest = c.dest.replace(/^\/app\/?/, './').replace(/\/$/, '');
    if (dest === `./${target}`) return true;
    // `COPY package.json ./`: into the working directory under its own name
    return (dest === '.' || dest === '') && c.sources.some((s) => s.replace(/^\.\//, '').replace(/\/$/, '') === target);
  });

describe('Dockerfile', () => {
  test('is multi-stage, every stage on the same Node image (same libc, same Node ABI for better-sqlite3)', () => {
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(2);
    const images = new Set(dockerfile.stages.map((s) => s.from));
    expect(images.size).toBe(1);
    expect([...images][0]).toMatch(/^node:\d+-/);
  });

  test("the final stage's node_modules come from `npm ci --omit=dev`, with better-sqlite3 built there", () => {
    const nm = copiedFrom('node_modules');
    expect(nm?.from, 'node_modules is copied from another stage').toBeTruthy();
    const deps = stage(nm!.from!);
    const install = runs(deps).join(' && ');
    expect(install).toMatch(/npm ci\b[^&]*--omit=dev/);
    // `prepare` runs the TypeScript build, and tsc is a devDependency: it must be skipped ...
    expect(pkg.scripts.prepare).toMatch(/build/);
    expect(install).toMatch(/npm ci\b[^&]*--ignore-scripts/);
    // ... so the one production dependency with an install script is built explicitly.
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; hasInstallScript?: boolean }> };
    const native = Object.entries(lock.packages)
      .filter(([path, p]) => path !== '' && !p.dev && p.hasInstallScript)
      .map(([path]) => path.replace(/^.*node_modules\//, ''));
    expect(native.length).toBeGreaterThan(0);
    for (const name of native) expect(install).toContain(`npm rebuild ${name}`);
    // A compiler is there for node-gyp when no prebuilt binary matches.
    const aptDeps = runs(deps).find((r) => r.includes('apt-get install')) ?? '';
    for (const tool of ['python3', 'make', 'g++']) expect(aptDeps).toContain(tool);
  });

  test('the final stage copies dist (from the build), node_modules, package.json and the bin, and installs no compiler', () => {
    const dist = copiedFrom('dist')!;
    expect(runs(stage(dist.from!)).join(' ')).toMatch(/npm run build/);
    expect(copiedFrom('package.json')).toBeDefined();
    const bin = dirname(pkg.bin.tollgate!);
    expect(copiedFrom(bin)).toBeDefined();
    expect(runs(final).join(' ')).not.toMatch(/apt-get|npm (ci|install)|g\+\+/);
  });

  test('runs as a numeric non-root user, with no HEALTHCHECK, the bin as ENTRYPOINT and `start` as CMD', () => {
    const users = final.instructions.filter((i) => i.op === 'USER');
    expect(users.length).toBeGreaterThan(0);
    const user = users.at(-1)!.args;
    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(Number(user.split(':')[0])).toBeGreaterThan(0);
    for (const s of dockerfile.stages) expect(s.instructions.some((i) => i.op === 'HEALTHCHECK'), s.name ?? '').toBe(false);
    const entry = execForm(final.instructions.find((i) => i.op === 'ENTRYPOINT')!.args)!;
    expect(entry, 'exec form, so SIGTERM reaches tollgate').not.toBeNull();
    expect(entry.join(' ')).toContain(pkg.bin.tollgate!.replace(/^\.\//, ''));
    const cmd = execForm(final.instructions.find((i) => i.op === 'CMD')!.args)!;
    expect(cmd[0]).toBe('start');
  });

  test("runs in a directory its user owns: the default data_dir (./.tollgate) and the demo's state are relative to it", () => {
    const workdirs = final.instructions.filter((i) => i.op === 'WORKDIR');
    const userAt = final.instructions.findIndex((i) => i.op === 'USER');
    const last = final.instructions.slice(0, userAt).filter((i) => i.op === 'WORKDIR').at(-1) ?? workdirs.at(-1)!;
    expect(final.instructions.slice(userAt).some((i) => i.op === 'WORKDIR'), 'WORKDIR after USER would be created as root').toBe(false);
    const user = final.instructions[userAt]!.args.split(':')[0]!;
    const chowned = runs(final).some((r) => new RegExp(`chown\\s+${user}(:\\d+)?\\s+[^&]*${last.args.replace(/\//g, '\\/')}(\\s|$)`).test(r));
    expect(chowned, `${last.args} chowned to ${user}`).toBe(true);
  });

  test('puts `tollgate` on PATH (for kubectl exec), pointing at the executable bin', async () => {
    const link = runs(final).join(' && ').match(/ln -s (\S+) (\S+)/);
    expect(link).not.toBeNull();
    expect(link![1]).toBe(`/app/${pkg.bin.tollgate!.replace(/^\.\//, '')}`);
    expect(link![2]).toBe('/usr/local/bin/tollgate');
    const { stdout } = await promisify(execFile)('git', ['ls-files', '-s', pkg.bin.tollgate!], { cwd: ROOT });
    expect(stdout).toMatch(/^100755 /);
    expect(readFileSync(join(ROOT, pkg.bin.tollgate!), 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/);
  });

  test('exposes the SPEC §2 ports', () => {
    const exposed = final.instructions.filter((i) => i.op === 'EXPOSE').flatMap((i) => i.args.split(' ').map(Number));
    expect(exposed.sort()).toEqual([8000, 8001, 8100, 8443]);
  });

  test("its Node major satisfies package.json's engines and every production dependency's", () => {
    const major = Number(/^node:(\d+)/.exec(final.from)![1]);
    expect(nodeMajorSatisfies(major, pkg.engines.node)).toBe(true);
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; engines?: { node?: string } }> };
    const refused = Object.entries(lock.packages)
      .filter(([, p]) => !p.dev && p.engines?.node !== undefined && !nodeMajorSatisfies(major, p.engines.node))
      .map(([path, p]) => `${path} needs node ${p.engines!.node}`);
    expect(refused).toEqual([]);
  });

  test('every COPY source from the build context exists and is not excluded by .dockerignore', () => {
    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    const ignored = (path: string) => ignore.some((pattern) => path === pattern || path.startsWith(`${pattern}/`));
    const sources = dockerfile.stages.flatMap((s) => copies(s).filter((c) => c.from === null).flatMap((c) => c.sources));
    expect(sources.length).toBeGreaterThan(3);
    for (const src of sources) {
      const path = src.replace(/^\.\//, '').replace(/\/$/, '');
      expect(existsSync(join(ROOT, path)), src).toBe(true);
      expect(ignored(path), `${src} is in .dockerignore`).toBe(false);
    }
    // and the secrets an overlay generates never enter the context
    expect(ignored('deploy')).toBe(true);
    expect(ignored('node_modules')).toBe(true);
  });
});

describe('the runtime import graph', () => {
  /** Module specifiers a file imports at run time (type-only imports are erased by tsc). */
  function runtimeImports(file: string): string[] {
    const text = readFileSync(file, 'utf8');
    const out: string[] = [];
    const statement = /^\s*(import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm;
    for (const m of text.matchAll(statement)) if (!m[2]) out.push(m[3]!);
    for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1]!);
    return out;
  }

  function closure(entry: string): { files: Set<string>; packages: Set<string> } {
    const files = new Set<string>();
    const packages = new Set<string>();
    const visit = (file: string) => {
      if (files.has(file)) return;
      files.add(file);
      for (const spec of runtimeImports(file)) {
        if (spec.startsWith('.')) {
          const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
          visit(existsSync(target) ? target : join(target, 'index.ts'));
        } else {
          packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
        }
      }
    };
    visit(entry);
    return { files, packages };
  }

  test('everything the CLI can load is a production dependency or a Node built-in', () => {
    const { files, packages } = closure(join(ROOT, 'src/cli/main.ts'));
    expect(files.size).toBeGreaterThan(50);
    const builtins = new Set(builtinModules);
    const outside = [...packages].filter((p) => !p.startsWith('node:') && !builtins.has(p) && !(p in pkg.dependencies));
    expect(outside).toEqual([]);
    // no test or fixture code is reachable either
    expect([...files].map((f) => relative(ROOT, f)).filter((f) => /\.test\.ts$|__fixtures__|\/test\//.test(f))).toEqual([]);
  });

  test('the runtime assets the build copies are in src/ (scripts/copy-assets.mjs)', () => {
    const assets: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (/\.(lua|json|html)$/.test(name)) assets.push(p);
      }
    };
    walk(join(ROOT, 'src'));
    expect(assets.some((a) => a.endsWith('.lua'))).toBe(true);
    const copy = readFileSync(join(ROOT, 'scripts/copy-assets.mjs'), 'utf8');
    expect(copy).toMatch(/lua/);
    expect(parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8'))).toMatchObject({ compilerOptions: { outDir: 'dist' } });
  });
});
