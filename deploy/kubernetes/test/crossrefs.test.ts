import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { parse } from 'yaml';
import { OVERLAYS, ROOT, all, copyTree, find, removeTree, render, writePlaceholderSecrets, type K8sObject, type Overlay } from './workspace.js';
import { containerPort, rulePorts, selects, type Probe, type NetworkPolicy, type Service, type Workload } from './podSpec.js';

/**
 * The rendered objects refer to each other by name, label and port; a typo in any of them
 * renders and validates fine and fails only in a cluster. These tests follow every reference.
 */

/** The platform's own services that tollgate fronts (the seed's architecture, SPEC §3). */
const PLATFORM_UPSTREAMS = new Set(['agent-router', 'gateway', 'mcpjungle']);

interface GatewayConfig {
  gateway: {
    tls: { cert: string; key: string };
    store: string;
    redis: string;
    data_dir: string;
    drain_timeout?: number;
    admin_listen?: string;
    status_listen?: string;
    trusted_proxies?: string[];
    signing_keys: { private_key_file: string }[];
  };
  services: { name: string; url: string; routes: { paths: string[]; preserve_host?: boolean; protocols?: string[]; plugins?: { name: string; enabled?: boolean }[] }[] }[];
  plugins: { name: string; config?: Record<string, unknown> }[];
}

let tree: string;
const rendered = new Map<Overlay, K8sObject[]>();

beforeAll(async () => {
  tree = copyTree();
  for (const overlay of OVERLAYS) {
    writePlaceholderSecrets(join(tree, 'overlays', overlay));
    rendered.set(overlay, await render(join(tree, 'overlays', overlay)));
  }
}, 120_000);

afterAll(() => removeTree(tree));

describe.each(OVERLAYS)('%s', (overlay) => {
  const objects = () => rendered.get(overlay)!;
  const deployment = () => find(objects(), 'Deployment', 'tollgate') as Workload;
  const pod = () => deployment().spec.template.spec;
  const tollgate = () => pod().containers.find((c) => c.name === 'tollgate')!;
  const configText = () => (find(objects(), 'ConfigMap', 'tollgate-config').data as Record<string, string>)['tollgate.yaml']!;
  const config = () => parse(configText()) as GatewayConfig;
  const workloads = () => [...all(objects(), 'Deployment'), ...all(objects(), 'StatefulSet')] as Workload[];
  const services = () => all(objects(), 'Service') as Service[];
  const mountOf = (volume: string) => tollgate().volumeMounts?.find((m) => m.name === volume);
  /** The volume mount a path in the container lies under (the longest match). */
  const mountFor = (path: string) =>
    (tollgate().volumeMounts ?? []).filter((m) => path === m.mountPath || path.startsWith(`${m.mountPath}/`)).sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  const volume = (name: string) => pod().volumes?.find((v) => v.name === name);
  /** A tollgate environment variable's value, followed through its ConfigMap reference. */
  const envValue = (name: string) => {
    const ref = tollgate().env!.find((e) => e.name === name)!.valueFrom!.configMapKeyRef!;
    return (find(objects(), 'ConfigMap', ref.name).data as Record<string, string>)[ref.key]!;
  };

  test('every namespaced object is in ai-platform; ClusterIssuers have no namespace', () => {
    for (const o of objects()) {
      if (o.kind === 'ClusterIssuer') expect(o.metadata.namespace, o.metadata.name).toBeUndefined();
      else expect(`${o.kind}/${o.metadata.name} ${o.metadata.namespace}`).toBe(`${o.kind}/${o.metadata.name} ai-platform`);
    }
  });

  test("the Certificate's Secret is mounted without subPath, and the config serves its tls.crt/tls.key", () => {
    const cert = find(objects(), 'Certificate', 'ai-platform-tls') as K8sObject & { spec: { secretName: string; dnsNames: string[]; commonName: string } };
    const vol = pod().volumes!.find((v) => v.secret?.secretName === cert.spec.secretName);
    expect(vol, `a volume of Secret ${cert.spec.secretName}`).toBeDefined();
    const mount = mountOf(vol!.name)!;
    expect(mount.subPath).toBeUndefined(); // a subPath mount is never updated on renewal
    expect(vol!.secret!.items).toBeUndefined();
    const { cert: certFile, key: keyFile } = config().gateway.tls;
    expect(certFile).toBe(posix.join(mount.mountPath, 'tls.crt'));
    expect(keyFile).toBe(posix.join(mount.mountPath, 'tls.key'));
    // The certificate names the host the config issues tokens for.
    const host = envValue('TOLLGATE_PUBLIC_HOST');
    expect(cert.spec.dnsNames).toEqual([host]);
    expect(cert.spec.commonName).toBe(host);
  });

  test('the Certificate names an issuer this overlay defines', () => {
    const cert = find(objects(), 'Certificate', 'ai-platform-tls') as K8sObject & { spec: { issuerRef: { kind: string; name: string; group: string } } };
    const issuer = find(objects(), cert.spec.issuerRef.kind, cert.spec.issuerRef.name);
    expect(issuer.apiVersion).toBe(`${cert.spec.issuerRef.group}/v1`);
    if (issuer.kind === 'Issuer') expect(issuer.metadata.namespace).toBe(cert.metadata.namespace);
  });

  test('the config file is mounted as a directory, so ConfigMap updates reach the running pods', () => {
    const args = tollgate().args!;
    const file = args[args.indexOf('--config') + 1]!;
    const vol = pod().volumes!.find((v) => v.configMap?.name === 'tollgate-config')!;
    const mount = mountOf(vol.name)!;
    expect(mount.subPath).toBeUndefined();
    expect(file).toBe(posix.join(mount.mountPath, 'tollgate.yaml'));
    expect(Object.keys(find(objects(), 'ConfigMap', 'tollgate-config').data as object)).toContain('tollgate.yaml');
  });

  test("every Service selects a workload's pods and targets ports its containers declare", () => {
    for (const svc of services()) {
      if (svc.metadata.name === 'tollgate-acme-solver') continue; // selects cert-manager's pods, below
      const matching = workloads().filter((w) => selects(svc.spec.selector, w.spec.template.metadata.labels));
      expect(matching.map((w) => w.metadata.name), `Service ${svc.metadata.name}`).toHaveLength(1);
      const containers = matching[0]!.spec.template.spec.containers;
      for (const p of svc.spec.ports) {
        const target = p.targetPort ?? p.port;
        expect(containers.some((c) => containerPort(c, target) !== undefined), `Service ${svc.metadata.name} port ${p.port} → ${target}`).toBe(true);
      }
    }
  });

  test('the proxy is a LoadBalancer on 80/443 → 8000/8443 keeping client IPs; admin and status stay internal', () => {
    const proxy = find(objects(), 'Service', 'tollgate-proxy') as Service;
    expect(proxy.spec.type).toBe('LoadBalancer');
    expect(proxy.spec.externalTrafficPolicy).toBe('Local');
    expect(proxy.spec.ports.map((p) => [p.port, containerPort(tollgate(), p.targetPort!)])).toEqual([
      [80, 8000],
      [443, 8443],
    ]);
    for (const name of ['tollgate-admin', 'tollgate-status']) expect((find(objects(), 'Service', name) as Service).spec.type).toBe('ClusterIP');
    expect(config().gateway.trusted_proxies ?? []).toEqual([]);
  });

  test("the container's ports are the listeners the config opens", () => {
    const g = config().gateway;
    const port = (listen: string | undefined, fallback: number) => (listen === undefined ? fallback : Number(listen.split(':').pop()));
    expect(containerPort(tollgate(), 'proxy')).toBe(8000);
    expect(containerPort(tollgate(), 'proxy-tls')).toBe(8443);
    expect(containerPort(tollgate(), 'admin')).toBe(port(g.admin_listen, 8001));
    expect(containerPort(tollgate(), 'status')).toBe(port(g.status_listen, 8100));
    // The Admin API is reachable through its Service only when it listens beyond loopback.
    expect(g.admin_listen).toMatch(/^0\.0\.0\.0:/);
    expect(configText()).toMatch(/admin_token: "\$\{TOLLGATE_ADMIN_TOKEN\}"/);
  });

  test('probes use the status port and its health paths', () => {
    const c = tollgate();
    expect(c.readinessProbe!.httpGet).toEqual({ path: '/health/ready', port: 'status' });
    expect(c.livenessProbe!.httpGet).toEqual({ path: '/health/live', port: 'status' });
    expect(c.startupProbe!.httpGet!.path).toBe('/health/live');
    for (const probe of [c.readinessProbe!, c.livenessProbe!, c.startupProbe!]) expect(containerPort(c, probe.httpGet!.port)).toBe(8100);
    // Readiness fails on every replica together while Redis or PostgreSQL is down: a restart of
    // either (up to 30 s) must not empty the Service.
    const r = c.readinessProbe as Probe & { periodSeconds: number; failureThreshold: number };
    expect(r.periodSeconds * r.failureThreshold).toBeGreaterThanOrEqual(30);
    for (const w of workloads()) {
      for (const container of w.spec.template.spec.containers) {
        for (const probe of [container.readinessProbe, container.livenessProbe, container.startupProbe]) {
          const port = probe?.httpGet?.port ?? probe?.tcpSocket?.port;
          if (port !== undefined) expect(containerPort(container, port), `${w.metadata.name} probe port ${port}`).toBeDefined();
        }
        expect(container.readinessProbe, `${w.metadata.name} readiness`).toBeDefined();
        expect(container.livenessProbe, `${w.metadata.name} liveness`).toBeDefined();
      }
    }
  });

  test('graceful termination outlasts the preStop pause plus the drain period', () => {
    const drain = config().gateway.drain_timeout ?? 30;
    const preStop = tollgate().lifecycle?.preStop;
    const pause = preStop?.sleep?.seconds ?? (preStop?.exec?.command[0] === 'sleep' ? Number(preStop.exec.command[1]) : 0);
    const audit = config().plugins.find((p) => p.name === 'audit-log')?.config ?? {};
    const flush = typeof audit.flush_timeout === 'number' ? audit.flush_timeout : 10;
    expect(pod().terminationGracePeriodSeconds!).toBeGreaterThan(pause + drain);
    expect(pod().terminationGracePeriodSeconds!).toBeGreaterThanOrEqual(pause + drain + flush);
  });

  test('runs as a non-root numeric user (the image\'s), with a read-only root and writable state volumes', () => {
    const dockerUser = /^USER\s+(\d+)(?::(\d+))?\s*$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
    expect(dockerUser).not.toBeNull();
    const sc = pod().securityContext!;
    expect(sc.runAsNonRoot).toBe(true);
    expect(sc.runAsUser).toBe(Number(dockerUser![1]));
    expect(sc.runAsGroup).toBe(Number(dockerUser![2]));
    expect(tollgate().securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    const writable = (path: string) => {
      const m = mountFor(path);
      expect(m, `a volume under ${path}`).toBeDefined();
      expect(m!.readOnly ?? false).toBe(false);
      expect(volume(m!.name)!.emptyDir, `${path} on an emptyDir`).toBeDefined();
    };
    writable(config().gateway.data_dir);
    const auditPath = config().plugins.find((p) => p.name === 'audit-log')!.config!.path as string;
    writable(posix.dirname(auditPath));
    writable('/tmp');
    for (const { private_key_file } of config().gateway.signing_keys) {
      const m = mountFor(private_key_file)!;
      expect(m.readOnly).toBe(true);
      const items = volume(m.name)!.secret!.items!;
      expect(items.map((i) => posix.join(m.mountPath, i.path))).toContain(private_key_file);
    }
    // The image's writable directories are the ones mounted here.
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toContain(config().gateway.data_dir);
    expect(dockerfile).toContain(posix.dirname(auditPath));
    for (const w of workloads()) {
      expect(w.spec.template.spec.securityContext?.runAsNonRoot, w.metadata.name).toBe(true);
      for (const c of w.spec.template.spec.containers) expect(c.securityContext?.readOnlyRootFilesystem, `${w.metadata.name}/${c.name}`).toBe(true);
    }
  });

  test('every ${VAR} in the config is set in the container, and every Secret/ConfigMap reference resolves', () => {
    const defined = new Set((tollgate().env ?? []).map((e) => e.name));
    const used = stringsIn(config()).flatMap((s) => [...s.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-[^}]*)?\}/g)].map((m) => m[1]!));
    expect(used.length).toBeGreaterThan(5);
    expect(used.filter((v) => !defined.has(v))).toEqual([]);
    const certSecrets = new Set(all(objects(), 'Certificate').map((c) => (c.spec as { secretName: string }).secretName));
    const dataOf = (kind: string, name: string) => {
      const o = objects().find((x) => x.kind === kind && x.metadata.name === name);
      return o ? Object.keys((o.data as object | undefined) ?? {}) : undefined;
    };
    for (const w of workloads()) {
      for (const c of w.spec.template.spec.containers) {
        for (const e of c.env ?? []) {
          const s = e.valueFrom?.secretKeyRef;
          const m = e.valueFrom?.configMapKeyRef;
          if (s) expect(dataOf('Secret', s.name), `${w.metadata.name} env ${e.name}: Secret ${s.name}`).toContain(s.key);
          if (m) expect(dataOf('ConfigMap', m.name), `${w.metadata.name} env ${e.name}: ConfigMap ${m.name}`).toContain(m.key);
        }
      }
      for (const v of w.spec.template.spec.volumes ?? []) {
        if (v.secret && !certSecrets.has(v.secret.secretName)) {
          const keys = dataOf('Secret', v.secret.secretName);
          expect(keys, `${w.metadata.name} volume ${v.name}`).toBeDefined();
          for (const item of v.secret.items ?? []) expect(keys).toContain(item.key);
        }
        if (v.configMap) expect(dataOf('ConfigMap', v.configMap.name), `${w.metadata.name} volume ${v.name}`).toBeDefined();
      }
      // and every mount has its volume (or claim template)
      const names = new Set([...(w.spec.template.spec.volumes ?? []).map((v) => v.name), ...(w.spec.volumeClaimTemplates ?? []).map((t) => t.metadata.name)]);
      for (const c of w.spec.template.spec.containers) for (const m of c.volumeMounts ?? []) expect(names, `${w.metadata.name} mount ${m.name}`).toContain(m.name);
    }
  });

  test("the config's store, Redis and upstream hosts are Services here or the platform's own", () => {
    const byName = new Map(services().map((s) => [s.metadata.name, s]));
    const hostPort = (url: string) => {
      const u = new URL(url);
      return { host: u.hostname, port: Number(u.port) };
    };
    for (const url of [config().gateway.store, config().gateway.redis]) {
      const { host, port } = hostPort(url);
      const svc = byName.get(host);
      expect(svc, url).toBeDefined();
      expect(svc!.spec.ports.map((p) => p.port)).toContain(port);
    }
    for (const s of config().services) {
      const { host, port } = hostPort(s.url);
      if (PLATFORM_UPSTREAMS.has(host)) continue;
      expect(byName.get(host)?.spec.ports.map((p) => p.port), `service ${s.name} → ${s.url}`).toContain(port);
    }
    expect(config().services.filter((s) => PLATFORM_UPSTREAMS.has(hostPort(s.url).host)).map((s) => s.url)).toEqual([
      'http://agent-router:8000',
      'http://gateway:9002',
      'http://mcpjungle:9100',
    ]);
  });

  test('StatefulSets are governed by headless Services that select their pods', () => {
    for (const sts of all(objects(), 'StatefulSet') as Workload[]) {
      const svc = find(objects(), 'Service', sts.spec.serviceName) as Service;
      expect(svc.spec.clusterIP).toBe('None');
      expect(selects(svc.spec.selector, sts.spec.template.metadata.labels)).toBe(true);
      expect(selects(sts.spec.selector.matchLabels, sts.spec.template.metadata.labels)).toBe(true);
    }
  });

  test('the HPA scales the Deployment and the PDB covers its pods', () => {
    const d = deployment();
    const hpa = find(objects(), 'HorizontalPodAutoscaler') as K8sObject & { spec: { scaleTargetRef: { apiVersion: string; kind: string; name: string }; minReplicas: number; maxReplicas: number } };
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: d.apiVersion, kind: d.kind, name: d.metadata.name });
    expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
    // the HPA owns the replica count: a count in the manifest would be reset by every apply
    expect(d.spec.replicas).toBeUndefined();
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(1);
    // CPU utilization needs a CPU request.
    expect(tollgate().resources?.requests?.cpu).toBeDefined();
    expect(tollgate().resources?.limits?.memory).toBeDefined();
    const pdb = find(objects(), 'PodDisruptionBudget') as K8sObject & { spec: { selector: { matchLabels: Record<string, string> }; maxUnavailable?: number } };
    expect(selects(pdb.spec.selector.matchLabels, d.spec.template.metadata.labels)).toBe(true);
    expect(selects(pdb.spec.selector.matchLabels, d.spec.selector.matchLabels)).toBe(true);
    if (overlay === 'production') expect(hpa.spec.minReplicas - (pdb.spec.maxUnavailable ?? 0)).toBeGreaterThanOrEqual(2);
  });

  test("PostgreSQL accepts every replica's connection pool at the HPA's maximum, during a rollout surge", () => {
    const poolMax = Number(/poolMax \?\? (\d+)/.exec(readFileSync(join(ROOT, 'src/store/connect.ts'), 'utf8'))![1]);
    const hpa = find(objects(), 'HorizontalPodAutoscaler') as K8sObject & { spec: { maxReplicas: number } };
    const surge = Number((deployment().spec as unknown as { strategy: { rollingUpdate: { maxSurge: number } } }).strategy.rollingUpdate.maxSurge);
    const postgres = (find(objects(), 'StatefulSet', 'tollgate-postgres') as Workload).spec.template.spec.containers[0]!;
    const args = postgres.args ?? [];
    const setting = args.map((a, i) => (args[i - 1] === '-c' && a.startsWith('max_connections=') ? Number(a.split('=')[1]) : null)).find((v) => v !== null);
    const maxConnections = setting ?? 100;
    // + 1 migration connection per starting pod, + a few for operators (psql, pg_dump)
    expect(maxConnections).toBeGreaterThanOrEqual((hpa.spec.maxReplicas + surge) * (poolMax + 1) + 5);
  });

  describe('NetworkPolicies', () => {
    const policies = () => all(objects(), 'NetworkPolicy') as NetworkPolicy[];
    const policyFor = (w: Workload) => policies().find((p) => selects(p.spec.podSelector.matchLabels, w.spec.template.metadata.labels));
    const podsOf = (selector: Record<string, string> | undefined) => workloads().filter((w) => selects(selector, w.spec.template.metadata.labels));

    test("every workload is covered, and every Service target port is admitted by its pods' policy", () => {
      for (const w of workloads()) {
        const policy = policyFor(w);
        expect(policy, `NetworkPolicy for ${w.metadata.name}`).toBeDefined();
        expect(policy!.spec.policyTypes).toContain('Ingress');
        const container = w.spec.template.spec.containers[0]!;
        const admitted = new Set(policy!.spec.ingress!.flatMap((r) => rulePorts(r, container)));
        const targets = services()
          .filter((s) => s.metadata.name !== 'tollgate-acme-solver' && selects(s.spec.selector, w.spec.template.metadata.labels))
          .flatMap((s) => s.spec.ports.map((p) => containerPort(container, p.targetPort ?? p.port)));
        expect(targets.length).toBeGreaterThan(0);
        expect([...new Set(targets)].sort()).toEqual([...admitted].sort());
      }
    });

    test('outside traffic reaches only the proxy ports; admin only from this namespace', () => {
      const policy = policyFor(deployment())!;
      const open = policy.spec.ingress!.filter((r) => r.from === undefined).flatMap((r) => rulePorts(r, tollgate()));
      expect(open.sort()).toEqual([8000, 8443]);
      const adminRules = policy.spec.ingress!.filter((r) => rulePorts(r, tollgate()).includes(8001));
      expect(adminRules).toHaveLength(1);
      expect(adminRules[0]!.from).toEqual([{ podSelector: {} }]);
      for (const name of ['tollgate-redis', 'tollgate-postgres']) {
        const p = policies().find((x) => x.metadata.name === name)!;
        for (const rule of p.spec.ingress!) {
          expect(rule.from!.length).toBeGreaterThan(0);
          for (const peer of rule.from!) expect(podsOf(peer.podSelector?.matchLabels).map((w) => w.metadata.name)).toEqual(['tollgate']);
        }
      }
    });

    test('egress admits the upstreams, Redis, PostgreSQL, the ACME solver, DNS and HTTPS to the IdP', () => {
      const policy = policyFor(deployment())!;
      expect(policy.spec.policyTypes).toContain('Egress');
      const egress = policy.spec.egress!;
      const allows = (port: number, match: (peer: NonNullable<typeof egress[number]['to']>[number] | undefined) => boolean) =>
        egress.some((r) => rulePorts(r).includes(port) && (r.to === undefined ? match(undefined) : r.to.some(match)));
      // upstreams of the config: pods in this namespace on the URL's port
      for (const s of config().services) {
        const port = Number(new URL(s.url).port);
        if (s.name === 'acme-http01') continue;
        expect(allows(port, (peer) => peer !== undefined && peer.podSelector !== undefined && Object.keys(peer.podSelector.matchLabels ?? {}).length === 0), `${s.name} :${port}`).toBe(true);
      }
      // Redis and PostgreSQL: their pods, on their container ports
      for (const name of ['tollgate-redis', 'tollgate-postgres']) {
        const sts = find(objects(), 'StatefulSet', name) as Workload;
        const port = sts.spec.template.spec.containers[0]!.ports![0]!.containerPort;
        expect(allows(port, (peer) => peer?.podSelector !== undefined && selects(peer.podSelector.matchLabels, sts.spec.template.metadata.labels) && Object.keys(peer.podSelector.matchLabels ?? {}).length > 0), name).toBe(true);
      }
      // The ACME solver: the pods its Service selects, on its target port
      const solver = find(objects(), 'Service', 'tollgate-acme-solver') as Service;
      expect(allows(Number(solver.spec.ports[0]!.targetPort), (peer) => JSON.stringify(peer?.podSelector?.matchLabels) === JSON.stringify(solver.spec.selector))).toBe(true);
      expect(allows(53, () => true)).toBe(true);
      expect(egress.some((r) => rulePorts(r).includes(53) && r.ports!.some((p) => p.protocol === 'UDP'))).toBe(true);
      expect(allows(443, (peer) => peer?.ipBlock !== undefined)).toBe(true);
    });
  });

  test('ACME HTTP-01 challenges reach the solver through tollgate, unauthenticated and with the Host kept', () => {
    const solver = find(objects(), 'Service', 'tollgate-acme-solver') as Service;
    expect(solver.spec.selector).toEqual({ 'acme.cert-manager.io/http01-solver': 'true' });
    const svc = config().services.find((s) => new URL(s.url).hostname === solver.metadata.name)!;
    expect(Number(new URL(svc.url).port)).toBe(solver.spec.ports[0]!.port);
    const route = svc.routes[0]!;
    expect(route.paths).toEqual(['/.well-known/acme-challenge/']);
    expect(route.preserve_host).toBe(true);
    expect(route.protocols).toEqual(['http']);
    // every global authentication or budget plugin is switched off on this route
    const disabled = new Set((route.plugins ?? []).filter((p) => p.enabled === false).map((p) => p.name));
    for (const p of config().plugins) if (['jwt', 'oauth2', 'token-budget', 'custom-jwt-auth', 'custom-auth-pre-function'].includes(p.name)) expect(disabled).toContain(p.name);
  });

  test('the tollgate image is set by the overlay; pods get no service links or API token', () => {
    expect(tollgate().image).toMatch(/^[^:]+:[\w.-]+$/);
    expect(tollgate().image).not.toMatch(/:latest$/);
    const spec = pod() as unknown as { automountServiceAccountToken?: boolean; enableServiceLinks?: boolean; serviceAccountName?: string };
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(spec.enableServiceLinks).toBe(false);
    expect(find(objects(), 'ServiceAccount', spec.serviceAccountName).metadata.name).toBe('tollgate');
  });
});

test('production: Let\'s Encrypt over HTTP-01, an e-mail from the patch, the ServiceMonitor scraping the status Service', () => {
  const objects = rendered.get('production')!;
  const issuers = all(objects, 'ClusterIssuer') as (K8sObject & { spec: { acme: { server: string; email?: string; solvers: { http01?: { ingress?: { class?: string; serviceType?: string } } }[] } } })[];
  expect(issuers.map((i) => i.metadata.name).sort()).toEqual(['letsencrypt-production', 'letsencrypt-staging']);
  const patch = parse(readFileSync(join(ROOT, 'deploy/kubernetes/overlays/production/patches/acme-email.yaml'), 'utf8')) as { path: string; value: string }[];
  for (const i of issuers) {
    expect(i.spec.acme.server).toMatch(/^https:\/\/acme(-staging)?-v02\.api\.letsencrypt\.org\/directory$/);
    expect(i.spec.acme.email).toBe(patch.find((p) => p.path === '/spec/acme/email')!.value);
    // an inert Ingress class, and a ClusterIP solver Service (tollgate proxies to it; no NodePort on every node)
    expect(i.spec.acme.solvers.every((s) => s.http01?.ingress?.class === 'tollgate' && s.http01.ingress.serviceType === 'ClusterIP')).toBe(true);
  }
  const cert = find(objects, 'Certificate', 'ai-platform-tls') as K8sObject & { spec: { issuerRef: { kind: string; name: string } } };
  expect(cert.spec.issuerRef).toMatchObject({ kind: 'ClusterIssuer', name: 'letsencrypt-production' });

  const monitor = find(objects, 'ServiceMonitor', 'tollgate') as K8sObject & { spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string }[] } };
  const scraped = (all(objects, 'Service') as Service[]).filter((s) => selects(monitor.spec.selector.matchLabels, s.metadata.labels));
  expect(scraped.map((s) => s.metadata.name)).toEqual(['tollgate-status']);
  expect(scraped[0]!.spec.ports.map((p) => p.name)).toContain(monitor.spec.endpoints[0]!.port);
  expect(monitor.spec.endpoints[0]!.path).toBe('/metrics');
});

test.each(OVERLAYS)('%s: the Grafana dashboard is a ConfigMap the Grafana sidecar picks up; every object fits kubectl apply', (overlay) => {
  const objects = rendered.get(overlay)!;
  const cm = find(objects, 'ConfigMap', 'tollgate-grafana-dashboard');
  expect(cm.metadata.labels?.grafana_dashboard).toBe('1');
  const file = readFileSync(join(ROOT, 'deploy/kubernetes/base/dashboards/tollgate.json'), 'utf8');
  const json = (cm.data as Record<string, string>)['tollgate.json']!;
  expect(json).toBe(file);
  const dashboard = JSON.parse(json) as { uid: string; panels: unknown[] };
  expect(dashboard.uid).toBeTruthy();
  expect(dashboard.panels.length).toBeGreaterThan(0);
  // Client-side `kubectl apply` copies each object into an annotation, and annotations are
  // limited to 256 KiB in total.
  for (const o of objects) expect(JSON.stringify(o).length, `${o.kind}/${o.metadata.name}`).toBeLessThan(256 * 1024);
});

test('dev: a self-signed Issuer, one replica', () => {
  const objects = rendered.get('dev')!;
  const issuer = find(objects, 'Issuer', 'tollgate-selfsigned') as K8sObject & { spec: Record<string, unknown> };
  expect(Object.keys(issuer.spec)).toEqual(['selfSigned']);
  expect((find(objects, 'HorizontalPodAutoscaler', 'tollgate').spec as { minReplicas: number }).minReplicas).toBe(1);
  expect(all(objects, 'ServiceMonitor')).toEqual([]);
});

/** Every string value in a parsed document (comments are gone by then). */
function stringsIn(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(stringsIn);
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(stringsIn);
  return [];
}
