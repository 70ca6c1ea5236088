import { createHash, webcrypto } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { find, type K8sObject } from './workspace.js';
import type { Container, Workload } from './podSpec.js';

/**
 * A rendered Deployment's container, laid out on this machine the way kubelet would lay it out
 * in the pod: every volume mount materialised under a temporary root (ConfigMap and Secret keys
 * as files, emptyDirs as directories, the cert-manager Secret as a certificate made to the
 * Certificate's spec), the environment resolved from the rendered Secrets and ConfigMaps, and
 * the config's absolute paths moved under the root.
 */
export interface SimulatedPod {
  root: string;
  container: Container;
  env: Record<string, string>;
  /** The container's `--config` file, its mount paths rewritten under `root`. */
  configFile: string;
  /** A path inside the container → the path here. */
  path(inContainer: string): string;
}

const decode = (b64: string) => Buffer.from(b64.replace(/\s+/g, ''), 'base64').toString('utf8');

function dataOf(objects: K8sObject[], kind: 'Secret' | 'ConfigMap', name: string): Record<string, string> | null {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) return null;
  const data = (o.data ?? {}) as Record<string, string>;
  return kind === 'Secret' ? Object.fromEntries(Object.entries(data).map(([k, v]) => [k, decode(v)])) : data;
}

/** The environment of a container, as kubelet resolves it. */
export function resolveEnv(objects: K8sObject[], container: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    const s = e.valueFrom?.secretKeyRef;
    const c = e.valueFrom?.configMapKeyRef;
    const value = s ? dataOf(objects, 'Secret', s.name)?.[s.key] : c ? dataOf(objects, 'ConfigMap', c.name)?.[c.key] : e.value;
    if (value === undefined) throw new Error(`env ${e.name}: its reference does not resolve`);
    env[e.name] = value;
  }
  return env;
}

interface CertificateSpec {
  secretName: string;
  dnsNames: string[];
  privateKey?: { algorithm?: string; size?: number; encoding?: string };
}

/** What cert-manager writes for a Certificate (tls.crt, tls.key, ca.crt), self-signed here. */
export async function certificateFor(spec: CertificateSpec): Promise<Record<string, string>> {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const ecdsa = (spec.privateKey?.algorithm ?? 'RSA') === 'ECDSA';
  const alg = ecdsa
    ? { name: 'ECDSA', namedCurve: `P-${spec.privateKey?.size ?? 256}`, hash: 'SHA-256' }
    : { name: 'RSASSA-PKCS1-v1_5', modulusLength: spec.privateKey?.size ?? 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: createHash('sha256').update(String(now)).digest('hex').slice(0, 16),
    name: `CN=${spec.dnsNames[0]}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 90 * 86_400_000),
    signingAlgorithm: alg,
    keys: keys as unknown as x509.X509CertificateCreateSelfSignedParams['keys'],
    extensions: [
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(spec.dnsNames.map((value) => ({ type: 'dns' as const, value }))),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
  return { 'tls.crt': cert.toString('pem'), 'tls.key': key, 'ca.crt': cert.toString('pem') };
}

export async function simulatePod(objects: K8sObject[], deployment: string, containerName: string): Promise<SimulatedPod> {
  const w = find(objects, 'Deployment', deployment) as Workload;
  const pod = w.spec.template.spec;
  const container = pod.containers.find((c) => c.name === containerName)!;
  const root = mkdtempSync(join(tmpdir(), 'tollgate-pod-'));
  const write = (path: string, content: string) => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content, { mode: 0o600 });
  };
  for (const m of container.volumeMounts ?? []) {
    const v = pod.volumes!.find((x) => x.name === m.name)!;
    const dir = join(root, m.mountPath);
    mkdirSync(dir, { recursive: true });
    let files: Record<string, string> | null = null;
    if (v.configMap) files = dataOf(objects, 'ConfigMap', v.configMap.name);
    if (v.secret) {
      files = dataOf(objects, 'Secret', v.secret.secretName);
      if (files === null) {
        const cert = objects.find((o) => o.kind === 'Certificate' && (o.spec as CertificateSpec).secretName === v.secret!.secretName);
        if (cert) files = await certificateFor(cert.spec as CertificateSpec);
      }
    }
    if ((v.configMap || v.secret) && files === null) throw new Error(`volume ${v.name}: nothing in the rendered output provides it`);
    const items = v.configMap?.items ?? v.secret?.items;
    if (files) {
      if (items) for (const i of items) write(join(dir, i.path), files[i.key]!);
      else for (const [k, content] of Object.entries(files)) write(join(dir, k), content);
    }
  }
  const mounts = (container.volumeMounts ?? []).map((m) => m.mountPath).sort((a, b) => b.length - a.length);
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const inContainerPath = new RegExp(`(?<![\\w./-])(${mounts.map(escape).join('|')})(?=/|$|[\\s"',\\]}])`, 'gm');
  const path = (p: string) => p.replace(inContainerPath, (mp) => join(root, mp));
  const args = container.args ?? [];
  const configInContainer = args[args.indexOf('--config') + 1]!;
  const configFile = path(configInContainer);
  writeFileSync(configFile, path(readFileSync(configFile, 'utf8')));
  return { root, container, env: resolveEnv(objects, container), configFile, path };
}
