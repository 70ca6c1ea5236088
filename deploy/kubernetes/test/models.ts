import { resolve } from 'node:path';
import ts from 'typescript';

/**
 * Validation of rendered Kubernetes objects against the kubernetes-models packages:
 *
 * - `validateModel()` runs the model's own validate() (JSON-schema types, enums, required
 *   fields). It lets unknown fields through (`spec.replica: 3` passes), which is exactly the
 *   typo a reviewer misses.
 * - `unknownFields()` walks the object alongside the model's TypeScript declaration (generated
 *   from the same OpenAPI / CRD schema) and reports every key the schema does not declare.
 */

const ROOT = resolve(import.meta.dirname, '../../..');

/** The module of a kind's model, e.g. apps/v1 Deployment → kubernetes-models/apps/v1/Deployment. */
export function modelModule(apiVersion: string, kind: string): string {
  const group = apiVersion.includes('/') ? apiVersion.split('/')[0]! : '';
  if (group === 'cert-manager.io' || group === 'acme.cert-manager.io') return `@kubernetes-models/cert-manager/${apiVersion}/${kind}`;
  if (group === 'monitoring.coreos.com') return `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`;
  return `kubernetes-models/${apiVersion}/${kind}`;
}

interface ModelClass {
  new (data: unknown): { validate(): void };
}

/**
 * kustomize wraps long base64 values of generated Secrets over several lines; the API server
 * decodes them with Go's base64, which skips line breaks. The model's `byte` format does not,
 * so line breaks are removed before validation (nothing else is changed).
 */
function asApiServerReads(obj: { kind: string; data?: unknown }): unknown {
  if (obj.kind !== 'Secret' || obj.data === null || typeof obj.data !== 'object') return obj;
  const data = Object.fromEntries(Object.entries(obj.data).map(([k, v]) => [k, typeof v === 'string' ? v.replace(/[\r\n]/g, '') : v]));
  return { ...obj, data };
}

/** Runs the model's validate(); returns its error message, or null when valid. */
export async function validateModel(obj: { apiVersion: string; kind: string }): Promise<string | null> {
  const mod = (await import(modelModule(obj.apiVersion, obj.kind))) as Record<string, ModelClass | undefined>;
  const Model = mod[obj.kind];
  if (!Model) throw new Error(`no model for ${obj.apiVersion} ${obj.kind}`);
  try {
    new Model(asApiServerReads(obj)).validate();
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/** One type checker over the models' declarations, built lazily and shared. */
class ModelTypes {
  private readonly checker: ts.TypeChecker;
  private readonly types = new Map<string, ts.Type>();

  constructor(kinds: ReadonlyArray<{ apiVersion: string; kind: string }>) {
    const file = resolve(ROOT, 'deploy/kubernetes/test/__models__.ts');
    const source = kinds
      .map((k, i) => `export declare const m${i}: import('${modelModule(k.apiVersion, k.kind)}').I${k.kind};`)
      .join('\n');
    const options: ts.CompilerOptions = {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: [],
    };
    const host = ts.createCompilerHost(options);
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (name, lang, ...rest) =>
      name === file ? ts.createSourceFile(name, source, lang) : getSourceFile(name, lang, ...rest);
    const fileExists = host.fileExists.bind(host);
    host.fileExists = (name) => name === file || fileExists(name);
    const program = ts.createProgram([file], options, host);
    const problems = ts.getPreEmitDiagnostics(program).filter((d) => d.file?.fileName === file);
    if (problems.length > 0) {
      throw new Error(problems.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('\n'));
    }
    this.checker = program.getTypeChecker();
    const sf = program.getSourceFile(file)!;
    const exports = this.checker.getExportsOfModule(this.checker.getSymbolAtLocation(sf)!);
    kinds.forEach((k, i) => {
      const sym = exports.find((s) => s.name === `m${i}`)!;
      this.types.set(`${k.apiVersion}/${k.kind}`, this.checker.getTypeOfSymbol(sym));
    });
  }

  typeOf(apiVersion: string, kind: string): ts.Type {
    const t = this.types.get(`${apiVersion}/${kind}`);
    if (!t) throw new Error(`no declaration loaded for ${apiVersion} ${kind}`);
    return t;
  }

  /** Paths of fields in `value` that `type` does not declare. */
  unknown(value: unknown, type: ts.Type, path: string): string[] {
    if (value === null || typeof value !== 'object') return [];
    const c = this.checker;
    const members = (type.isUnion() ? type.types : [type]).map((t) => c.getNonNullableType(t));
    if (members.some((t) => t.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown))) return [];
    if (Array.isArray(value)) {
      const elems = members.filter((t) => c.isArrayType(t)).map((t) => c.getTypeArguments(t as ts.TypeReference)[0]!);
      if (elems.length === 0) return [`${path}: a list where the schema has ${members.map((t) => c.typeToString(t)).join(' | ')}`];
      return value.flatMap((item, i) => this.unknown(item, elems.length === 1 ? elems[0]! : unionOf(elems), `${path}[${i}]`));
    }
    const objects = members.filter((t) => t.flags & ts.TypeFlags.Object && !c.isArrayType(t));
    if (objects.length === 0) return [`${path}: an object where the schema has ${members.map((t) => c.typeToString(t)).join(' | ')}`];
    const problems: string[] = [];
    for (const [key, child] of Object.entries(value)) {
      const fieldTypes: ts.Type[] = [];
      let freeForm = false;
      for (const t of objects) {
        const prop = c.getPropertyOfType(t, key);
        if (prop) {
          fieldTypes.push(c.getTypeOfSymbol(prop));
          continue;
        }
        const index = c.getIndexInfosOfType(t).find((info) => info.keyType.flags & ts.TypeFlags.String);
        if (index) fieldTypes.push(index.type);
        // A declared object with no properties at all is free-form in these models
        // (x-kubernetes-preserve-unknown-fields).
        else if (c.getPropertiesOfType(t).length === 0) freeForm = true;
      }
      const where = path ? `${path}.${key}` : key;
      if (fieldTypes.length === 0) {
        if (!freeForm) {
          const known = [...new Set(objects.flatMap((t) => c.getPropertiesOfType(t).map((p) => p.name)))].sort();
          problems.push(`${where}: unknown field (the schema has ${known.join(', ')})`);
        }
        continue;
      }
      problems.push(...this.unknown(child, fieldTypes.length === 1 ? fieldTypes[0]! : unionOf(fieldTypes), where));
    }
    return problems;
  }
}

/** A stand-in union: `unknown()` only needs `.isUnion()` and `.types`. */
function unionOf(types: ts.Type[]): ts.Type {
  return { types, isUnion: () => true, flags: ts.TypeFlags.Union } as unknown as ts.Type;
}

let shared: { key: string; types: ModelTypes } | null = null;

/**
 * Every field of `obj` (and of the objects inside it) that its kind's schema does not declare,
 * as `spec.template.spec.containers[0].imagePullPolicyy: unknown field (…)`.
 */
export function unknownFields(obj: { apiVersion: string; kind: string }, kinds: ReadonlyArray<{ apiVersion: string; kind: string }> = [obj]): string[] {
  const all = [...new Map([...kinds, obj].map((k) => [`${k.apiVersion}/${k.kind}`, { apiVersion: k.apiVersion, kind: k.kind }])).values()];
  const key = all.map((k) => `${k.apiVersion}/${k.kind}`).sort().join(',');
  if (!shared || !all.every((k) => shared!.key.split(',').includes(`${k.apiVersion}/${k.kind}`))) {
    shared = { key, types: new ModelTypes(all) };
  }
  return shared.types.unknown(obj, shared.types.typeOf(obj.apiVersion, obj.kind), '');
}
