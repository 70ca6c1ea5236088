import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { join } from 'node:path';
import { OVERLAYS, copyTree, find, removeTree, render, writePlaceholderSecrets, type K8sObject, type Overlay } from './workspace.js';
import { unknownFields, validateModel } from './models.js';

/**
 * Every overlay renders offline with `kubectl kustomize`, and every rendered object is valid
 * for its kind: the kubernetes-models validators (types, enums, required fields) plus our
 * unknown-field walk (the validators let `spec.replica: 3` through).
 */

let tree: string;
const rendered = new Map<Overlay | 'base', K8sObject[]>();

beforeAll(async () => {
  tree = copyTree();
  for (const overlay of OVERLAYS) writePlaceholderSecrets(join(tree, 'overlays', overlay));
  rendered.set('base', await render(join(tree, 'base')));
  for (const overlay of OVERLAYS) rendered.set(overlay, await render(join(tree, 'overlays', overlay)));
}, 120_000);

afterAll(() => removeTree(tree));

const kindsOf = (objects: K8sObject[]) => [...new Set(objects.map((o) => `${o.apiVersion} ${o.kind}`))].sort();

describe.each(['base', ...OVERLAYS] as const)('%s', (name) => {
  test('renders with kubectl kustomize', () => {
    const objects = rendered.get(name)!;
    expect(objects.length).toBeGreaterThan(10);
    const ids = objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
    expect(new Set(ids).size).toBe(ids.length);
  });

  test('every object validates against its kubernetes-models schema', async () => {
    const failures: string[] = [];
    for (const o of rendered.get(name)!) {
      const error = await validateModel(o);
      if (error) failures.push(`${o.kind}/${o.metadata.name}: ${error}`);
    }
    expect(failures).toEqual([]);
  });

  test('no object has a field its schema does not declare', () => {
    const objects = rendered.get(name)!;
    const failures = objects.flatMap((o) => unknownFields(o, objects).map((p) => `${o.kind}/${o.metadata.name}: ${p}`));
    expect(failures).toEqual([]);
  });
});

test('the overlays add what the base leaves open', () => {
  const base = kindsOf(rendered.get('base')!);
  const dev = kindsOf(rendered.get('dev')!);
  const production = kindsOf(rendered.get('production')!);
  expect(dev).toEqual(expect.arrayContaining([...base, 'cert-manager.io/v1 Issuer', 'v1 Secret']));
  expect(production).toEqual(expect.arrayContaining([...base, 'cert-manager.io/v1 ClusterIssuer', 'monitoring.coreos.com/v1 ServiceMonitor', 'v1 Secret']));
  expect(dev).not.toContain('cert-manager.io/v1 ClusterIssuer');
});

describe('the unknown-field check', () => {
  const deployment = () => structuredClone(find(rendered.get('production')!, 'Deployment', 'tollgate'));

  test('catches a misspelt field that the model validator lets through', async () => {
    const d = deployment();
    (d.spec as Record<string, unknown>).replica = 3;
    const container = (d.spec as { template: { spec: { containers: Record<string, unknown>[] } } }).template.spec.containers[0]!;
    (container.readinessProbe as Record<string, unknown>).httpGett = { path: '/health/ready', port: 'status' };
    (d.metadata as Record<string, unknown>).label = { a: 'b' };
    expect(await validateModel(d)).toBeNull();
    expect(unknownFields(d, rendered.get('production')!)).toEqual([
      expect.stringMatching(/^metadata\.label: unknown field/),
      expect.stringMatching(/^spec\.template\.spec\.containers\[0\]\.readinessProbe\.httpGett: unknown field/),
      expect.stringMatching(/^spec\.replica: unknown field \(the schema has .*replicas/),
    ]);
  });

  test('walks custom resources too (cert-manager, Prometheus Operator)', async () => {
    const objects = rendered.get('production')!;
    const issuer = structuredClone(find(objects, 'ClusterIssuer', 'letsencrypt-production'));
    const solver = (issuer.spec as { acme: { solvers: { http01: { ingress: Record<string, unknown> } }[] } }).acme.solvers[0]!;
    solver.http01.ingress.ingressClass = 'tollgate';
    const monitor = structuredClone(find(objects, 'ServiceMonitor', 'tollgate'));
    (monitor.spec as { endpoints: Record<string, unknown>[] }).endpoints[0]!.targetPorts = 8100;
    expect(await validateModel(issuer)).toBeNull();
    expect(unknownFields(issuer, objects)).toEqual([expect.stringMatching(/^spec\.acme\.solvers\[0\]\.http01\.ingress\.ingressClass: unknown field/)]);
    expect(unknownFields(monitor, objects)).toEqual([expect.stringMatching(/^spec\.endpoints\[0\]\.targetPorts: unknown field/)]);
  });

  test('accepts free-form maps (labels, ConfigMap data) and reports wrong types through the model', async () => {
    const d = deployment();
    d.metadata.labels = { ...d.metadata.labels, 'example.com/any-key': 'x' };
    expect(unknownFields(d, rendered.get('production')!)).toEqual([]);
    (d.spec as Record<string, unknown>).replicas = 'three';
    expect(await validateModel(d)).toMatch(/replicas/);
  });
});
