import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { runCli } from '../../../test/helpers/gateway.js';
import { ROOT, TOLLGATE_FROM_SOURCE, all, copyTree, find, removeTree, render, writePlaceholderSecrets, type K8sObject } from './workspace.js';
import { selects, type Service, type Workload } from './podSpec.js';
import { GUIDE, PRODUCTION, guideCommands, simpleCommands, words } from './guide.js';

/**
 * docs/deployment.md promises that its commands work with this repository. These tests read
 * every shell block of the guide and hold each command against what it names: kustomize
 * directories, the secrets script (run as written), tollgate subcommands and options, the
 * Kubernetes objects, labels and ports it addresses, Admin API routes, proxy and status paths,
 * and the header names it sends. (The jq queries, the openssl checks and the PromQL metric
 * names are run against a real gateway in pod.test.ts.)
 */

const exec = promisify(execFile);

const commands = guideCommands();
const simple = commands.flatMap(simpleCommands);
/** Commands of `program`, including those run in a pod (`kubectl exec … -- program …`). */
const starting = (program: string) =>
  simple
    .map((c) => (c.includes(` -- ${program} `) ? c.slice(c.indexOf(` -- ${program} `) + 4) : c))
    .filter((c) => c === program || c.startsWith(`${program} `))
    .map(words);

let objects: K8sObject[];
let tree: string;

beforeAll(async () => {
  tree = copyTree();
  writePlaceholderSecrets(join(tree, 'overlays/production'));
  objects = await render(join(tree, 'overlays/production'));
}, 120_000);

afterAll(() => tree && removeTree(tree));

test('the guide has commands for every part of the job', () => {
  expect(commands.length).toBeGreaterThan(60);
  for (const program of ['kubectl', 'curl', 'tollgate', 'openssl', 'deploy/kubernetes/scripts/generate-secrets.sh', 'jq', 'docker', 'npm']) {
    expect(starting(program).length, program).toBeGreaterThan(0);
  }
});

test('every -k / kustomize directory is a kustomization in this repository', () => {
  const dirs = starting('kubectl').flatMap((w) => {
    const k = w.indexOf('-k');
    if (k >= 0) return [w[k + 1]!];
    return w[1] === 'kustomize' ? [w[2]!] : [];
  });
  expect(dirs.length).toBeGreaterThan(4);
  for (const d of dirs) expect(existsSync(join(ROOT, d, 'kustomization.yaml')), d).toBe(true);
});

test('every file the guide names exists (generated secrets aside)', () => {
  const paths = new Set([...GUIDE.matchAll(/(?<![\w/.-])(deploy\/kubernetes\/[\w./-]*\w|docs\/[\w./-]*\w|Dockerfile)\b/g)].map((m) => m[1]!));
  expect(paths.size).toBeGreaterThan(10);
  for (const p of paths) {
    if (/\/secrets(\/|$)/.test(p)) continue;
    expect(existsSync(join(ROOT, p)), p).toBe(true);
  }
});

test('the generate-secrets.sh commands run as written, in order, on a copy of the repository', async () => {
  const root = join(tree, 'repo');
  mkdirSync(join(root, 'deploy'), { recursive: true });
  const kube = copyTree();
  renameSync(kube, join(root, 'deploy/kubernetes'));
  const runs = starting('deploy/kubernetes/scripts/generate-secrets.sh');
  expect(runs.length).toBeGreaterThan(8);
  for (const w of runs) {
    const r = await exec('bash', w, { cwd: root, env: { ...process.env, TOLLGATE: TOLLGATE_FROM_SOURCE, TOLLGATE_KEY_BITS: '2048' }, timeout: 120_000 }).catch((e: Error) => e);
    expect(r instanceof Error ? r.message : 'ok', w.join(' ')).toBe('ok');
  }
  // what the guide then reads from secrets/
  for (const m of GUIDE.matchAll(/\$\(cat ([^)]+)\)/g)) {
    const file = m[1]!.replace(/\$O\b/g, PRODUCTION);
    expect(existsSync(join(root, file)), file).toBe(true);
  }
}, 300_000);

describe('tollgate commands', () => {
  const invocations = () => starting('tollgate');

  test('every subcommand and option exists (checked against `tollgate … --help`)', async () => {
    expect(invocations().length).toBeGreaterThan(5);
    const helpOf = new Map<string, string>();
    for (const w of invocations()) {
      if (w.join(' ') === 'tollgate --version') {
        expect((await runCli(['--version'])).code).toBe(0);
        continue;
      }
      const path: string[] = [];
      for (const word of w.slice(1)) {
        if (word.startsWith('-')) break;
        const help = helpOf.get(path.join(' ')) ?? (await runCli([...path, '--help'])).stdout;
        helpOf.set(path.join(' '), help);
        if (!new RegExp(`^\\s+${word}\\b`, 'm').test(help)) break;
        path.push(word);
      }
      expect(path.length, w.join(' ')).toBeGreaterThan(0);
      const help = helpOf.get(path.join(' ')) ?? (await runCli([...path, '--help'])).stdout;
      for (const option of w.filter((x) => x.startsWith('--'))) {
        if (option === '--version') continue;
        expect(help, `${w.join(' ')}: ${option}`).toContain(option.split('=')[0]!);
      }
    }
  }, 120_000);

  test('inside the pod, tollgate reads the config where the Deployment mounts it', () => {
    const args = (find(objects, 'Deployment', 'tollgate') as Workload).spec.template.spec.containers[0]!.args!;
    const inPod = args[args.indexOf('--config') + 1]!;
    const uses = invocations().filter((w) => w.includes('--config')).map((w) => w[w.indexOf('--config') + 1]);
    expect(uses.length).toBeGreaterThan(2);
    for (const u of uses) expect(u).toBe(inPod);
  });
});

describe('kubectl commands address objects the production overlay creates', () => {
  const kubectl = () => starting('kubectl');
  const inNamespace = () => kubectl().filter((w) => w.join(' ').includes('-n ai-platform'));

  test('every namespaced kubectl command uses ai-platform', () => {
    const namespaces = new Set(objects.filter((o) => o.metadata.namespace).map((o) => o.metadata.namespace));
    expect([...namespaces]).toEqual(['ai-platform']);
    for (const w of kubectl()) {
      const n = w.indexOf('-n');
      if (n >= 0 && w[n + 1] !== 'cert-manager' && w[n + 1] !== 'monitoring') expect(w[n + 1], w.join(' ')).toBe('ai-platform');
    }
  });

  test('kind/name references (svc/…, deployment/…, deploy/…) exist', () => {
    const kinds: Record<string, string> = { svc: 'Service', deployment: 'Deployment', deploy: 'Deployment' };
    const refs = inNamespace().flatMap((w) => w.filter((x) => /^(svc|deployment|deploy)\/[\w-]+$/.test(x)));
    expect(refs.length).toBeGreaterThan(5);
    for (const ref of refs) {
      const [kind, name] = ref.split('/');
      expect(() => find(objects, kinds[kind!]!, name), ref).not.toThrow();
    }
  });

  test('named objects (certificate, secret, svc, pods of StatefulSets, PVCs) exist', () => {
    const stsPods = all(objects, 'StatefulSet').map((s) => `${s.metadata.name}-0`);
    const pvcs = (all(objects, 'StatefulSet') as Workload[]).flatMap((s) => (s.spec.volumeClaimTemplates ?? []).map((t) => `${t.metadata.name}-${s.metadata.name}-0`));
    const certSecrets = all(objects, 'Certificate').map((c) => (c.spec as { secretName: string }).secretName);
    let checked = 0;
    for (const w of inNamespace()) {
      const verb = w[1]!;
      const kindAt = w.findIndex((x, i) => i > 1 && ['certificate', 'secret', 'svc', 'pvc'].includes(x));
      if (kindAt > 0 && w[kindAt + 1] && !w[kindAt + 1]!.startsWith('-')) {
        const name = w[kindAt + 1]!;
        const kind = w[kindAt]!;
        if (kind === 'certificate') expect(() => find(objects, 'Certificate', name)).not.toThrow();
        if (kind === 'secret') expect(certSecrets).toContain(name);
        if (kind === 'svc') expect(() => find(objects, 'Service', name)).not.toThrow();
        if (kind === 'pvc') for (const n of w.slice(kindAt + 1).filter((x) => !x.startsWith('-'))) expect(pvcs).toContain(n);
        checked++;
      }
      if (verb === 'exec' || verb === 'cp') {
        const target = w.find((x) => /^tollgate-[\w-]+-\d+$/.test(x) || /^ai-platform\/\$POD/.test(x));
        if (target && /-\d+$/.test(target)) {
          expect(stsPods, w.join(' ')).toContain(target);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(5);
  });

  test('label selectors select something', () => {
    const selectors = kubectl().flatMap((w) => {
      const l = w.indexOf('-l');
      return l >= 0 && w[1] !== undefined ? [{ what: w.slice(1, 3).join(' '), selector: w[l + 1]!, ns: w[w.indexOf('-n') + 1] }] : [];
    });
    expect(selectors.length).toBeGreaterThan(5);
    for (const { what, selector, ns } of selectors) {
      if (ns !== 'ai-platform') continue; // cert-manager's own pods
      const [k, v] = selector.split('=');
      const want = { [k!]: v! };
      const podLabels = (all(objects, 'Deployment').concat(all(objects, 'StatefulSet')) as Workload[]).map((x) => x.spec.template.metadata.labels);
      const objectLabels = objects.map((o) => o.metadata.labels ?? {});
      const pool = /pods?\b|logs|describe pod/.test(what) || what.startsWith('logs') ? podLabels : objectLabels;
      expect(pool.some((labels) => selects(want, labels)), `${what} -l ${selector}`).toBe(true);
    }
  });

  test('port-forwards name Service ports that exist', () => {
    for (const w of kubectl().filter((x) => x[1] === 'port-forward' || x.includes('port-forward'))) {
      const ref = w.find((x) => x.startsWith('svc/'))!;
      const ports = w.find((x) => /^\d+:\d+$/.test(x))!;
      if (w.includes('monitoring')) continue; // Grafana, not ours
      const svc = find(objects, 'Service', ref.slice(4)) as Service;
      expect(svc.spec.ports.map((p) => p.port), w.join(' ')).toContain(Number(ports.split(':')[1]));
    }
  });
});

describe('curl commands', () => {
  const curls = () => starting('curl');
  const config = () => parse((find(objects, 'ConfigMap', 'tollgate-config').data as Record<string, string>)['tollgate.yaml']!) as { services: { routes: { paths: string[] }[] }[] };

  test('Admin API calls (localhost:8001) match routes the Admin API registers, with their methods', () => {
    const routes: { method: string; re: RegExp }[] = [];
    for (const file of readdirSync(join(ROOT, 'src/admin')).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))) {
      for (const m of readFileSync(join(ROOT, 'src/admin', file), 'utf8').matchAll(/app\.(get|post|put|delete|patch)(?:<[^>]*>)?\('([^']+)'/g)) {
        routes.push({ method: m[1]!.toUpperCase(), re: new RegExp(`^${m[2]!.replace(/:\w+/g, '[^/]+')}$`) });
      }
    }
    const calls = curls().filter((w) => w.some((x) => x.startsWith('http://localhost:8001/')));
    expect(calls.length).toBeGreaterThan(4);
    for (const w of calls) {
      const url = new URL(w.find((x) => x.startsWith('http://localhost:8001/'))!);
      const x = w.indexOf('-X');
      const method = x >= 0 ? w[x + 1]! : w.includes('-d') ? 'POST' : 'GET';
      expect(routes.some((r) => r.method === method && r.re.test(url.pathname)), `${method} ${url.pathname}`).toBe(true);
      expect(w.join(' '), 'sends the admin token').toMatch(/Authorization: Bearer \$ADMIN_TOKEN/);
    }
  });

  test("proxy URLs are routes of the config or tollgate's own OAuth endpoints", () => {
    const oauth = readFileSync(join(ROOT, 'src/oauth/endpoints.ts'), 'utf8') + readFileSync(join(ROOT, 'src/oauth/metadata.ts'), 'utf8');
    const prefixes = config().services.flatMap((s) => s.routes.flatMap((r) => r.paths));
    const urls = curls().flatMap((w) => w.filter((x) => /^https?:\/\/api\.your-domain\.com\//.test(x)));
    expect(urls.length).toBeGreaterThan(8);
    for (const u of urls) {
      const path = new URL(u).pathname;
      const known = prefixes.some((p) => path.startsWith(p)) || oauth.includes(`'${path}'`) || oauth.includes(path);
      expect(known, path).toBe(true);
    }
  });

  test('status URLs (localhost:8100) are paths the status listener serves', () => {
    const served = [...readFileSync(join(ROOT, 'src/server/statusServer.ts'), 'utf8').matchAll(/case '([^']+)'/g)].map((m) => m[1]);
    const urls = curls().flatMap((w) => w.filter((x) => x.startsWith('http://localhost:8100/')));
    expect(urls.length).toBeGreaterThan(2);
    for (const u of urls) expect(served, u).toContain(new URL(u).pathname);
  });

  test('every request header the guide sends is one tollgate reads', () => {
    const src = readdirSync(join(ROOT, 'src'), { recursive: true, withFileTypes: false } as { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
      .map((f) => readFileSync(join(ROOT, 'src', f), 'utf8').toLowerCase())
      .join('\n');
    const headers = new Set(curls().flatMap((w) => w.flatMap((x, i) => (w[i - 1] === '-H' ? [x.split(':')[0]!.toLowerCase()] : []))));
    expect([...headers]).toEqual(expect.arrayContaining(['authorization', 'x-workspace-id']));
    for (const h of headers) expect(src.includes(`'${h}'`) || src.includes(`"${h}"`), h).toBe(true);
  });
});
