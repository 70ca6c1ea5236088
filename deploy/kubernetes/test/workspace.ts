import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parse, parseAllDocuments } from 'yaml';
import { TSX } from '../../../test/helpers/gateway.js';

const run = promisify(execFile);

export const ROOT = resolve(import.meta.dirname, '../../..');
export const KUBE = join(ROOT, 'deploy/kubernetes');
export const OVERLAYS = ['dev', 'production'] as const;
export type Overlay = (typeof OVERLAYS)[number];

/** A rendered Kubernetes object (enough typing for the tests' own reads). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** The tollgate command the script and the tests run: the CLI from source, like runCli(). */
export const TOLLGATE_FROM_SOURCE = `${process.execPath} --import ${TSX} ${join(ROOT, 'src/cli/main.ts')}`;

/** A private copy of deploy/kubernetes, so secrets can be written without touching the checkout. */
export function copyTree(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-kube-'));
  cpSync(KUBE, dir, { recursive: true, filter: (src) => !src.split('/').includes('secrets') });
  return dir;
}

export function removeTree(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** The secret files an overlay's secretGenerator reads (the part after `=` of each `files` entry). */
export function secretFiles(overlayDir: string): string[] {
  const k = parse(readFileSync(join(overlayDir, 'kustomization.yaml'), 'utf8')) as { secretGenerator?: { files?: string[] }[] };
  return (k.secretGenerator ?? []).flatMap((g) => (g.files ?? []).map((f) => (f.includes('=') ? f.slice(f.indexOf('=') + 1) : f)));
}

/** Placeholder secret files (for rendering checks that do not need real keys). */
export function writePlaceholderSecrets(overlayDir: string): void {
  for (const file of secretFiles(overlayDir)) {
    const path = join(overlayDir, file);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `placeholder-${file.replace(/\W+/g, '-')}`);
  }
}

/** Runs scripts/generate-secrets.sh as the docs say, with 2048-bit keys to keep tests quick. */
export async function generateSecrets(tree: string, overlay: Overlay, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run('bash', [join(tree, 'scripts/generate-secrets.sh'), join(tree, 'overlays', overlay), ...args], {
    env: { ...process.env, TOLLGATE: TOLLGATE_FROM_SOURCE, TOLLGATE_KEY_BITS: '2048', TOLLGATE_LOG_LEVEL: 'warn' },
    timeout: 120_000,
  });
}

/** `kubectl kustomize DIR`, parsed. */
export async function render(dir: string): Promise<K8sObject[]> {
  const { stdout } = await run('kubectl', ['kustomize', dir], { maxBuffer: 64 * 1024 * 1024, timeout: 60_000 });
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

export function find(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (!found) throw new Error(`no ${kind}${name ? ` ${name}` : ''} in the rendered output`);
  return found;
}

export function all(objects: K8sObject[], kind: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind);
}
