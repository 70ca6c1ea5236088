import type { K8sObject } from './workspace.js';

/** The parts of workloads, Services and policies the cross-reference tests read. */

export interface ContainerPort {
  name?: string;
  containerPort: number;
}

export interface Probe {
  httpGet?: { path: string; port: string | number };
  tcpSocket?: { port: string | number };
  exec?: { command: string[] };
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string };
    configMapKeyRef?: { name: string; key: string };
  };
}

export interface Container {
  name: string;
  image: string;
  args?: string[];
  ports?: ContainerPort[];
  env?: EnvVar[];
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] }; sleep?: { seconds: number } } };
  securityContext?: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean; runAsNonRoot?: boolean; runAsUser?: number };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean; subPath?: string }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}

export interface Volume {
  name: string;
  emptyDir?: Record<string, unknown>;
  configMap?: { name: string; items?: { key: string; path: string }[] };
  secret?: { secretName: string; items?: { key: string; path: string }[] };
  persistentVolumeClaim?: { claimName: string };
}

export interface PodSpec {
  containers: Container[];
  volumes?: Volume[];
  terminationGracePeriodSeconds?: number;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; runAsGroup?: number; fsGroup?: number };
  serviceAccountName?: string;
}

export interface Workload extends K8sObject {
  spec: {
    replicas?: number;
    serviceName?: string;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
    volumeClaimTemplates?: { metadata: { name: string } }[];
  };
}

export interface ServicePort {
  name?: string;
  port: number;
  targetPort?: string | number;
  protocol?: string;
}

export interface Service extends K8sObject {
  spec: { type?: string; clusterIP?: string; selector?: Record<string, string>; ports: ServicePort[]; externalTrafficPolicy?: string };
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
}

export interface NetworkPolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string };
}

export interface NetworkPolicyRule {
  from?: NetworkPolicyPeer[];
  to?: NetworkPolicyPeer[];
  ports?: { protocol?: string; port: number | string }[];
}

export interface NetworkPolicy extends K8sObject {
  spec: { podSelector: LabelSelector; policyTypes?: string[]; ingress?: NetworkPolicyRule[]; egress?: NetworkPolicyRule[] };
}

/** Label-selector match: every selector pair is among the labels (an empty selector matches all). */
export function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);
}

/** A container port by name or number, or undefined. */
export function containerPort(container: Container, port: string | number): number | undefined {
  if (typeof port === 'number') return container.ports?.some((p) => p.containerPort === port) ? port : undefined;
  if (/^\d+$/.test(port)) return containerPort(container, Number(port));
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

/** The numeric ports a NetworkPolicy rule admits (named ports resolved against `container`). */
export function rulePorts(rule: NetworkPolicyRule, container?: Container): number[] {
  return (rule.ports ?? []).map((p) => (typeof p.port === 'number' ? p.port : container ? (containerPort(container, p.port) ?? -1) : -1));
}
