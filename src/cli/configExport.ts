import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { builtinRegistry } from '../plugins/index.js';
import { loadConfigFile } from '../config/load.js';
import type { TollgateConfig } from '../config/schema.js';
import { createStore } from '../store/index.js';
import { parseStoreUrl } from '../store/connect.js';
import type { Store } from '../store/types.js';
import { UserError } from '../core/errors.js';
import { entityDocumentYaml, exportEntityDocument } from '../admin/entityDocument.js';
import { resolveConfigFile } from './start.js';

/**
 * The config named by `--config` / TOLLGATE_CONFIG / ./tollgate.yaml. Required, as for start:
 * with none, export would read (and import write) a new empty SQLite store in the working
 * directory and exit 0 — an empty backup nobody notices.
 */
export async function configForStore(flag: string | undefined): Promise<TollgateConfig> {
  const file = resolveConfigFile(flag);
  if (file === null) throw new UserError('no config file: pass --config FILE, set TOLLGATE_CONFIG, or create ./tollgate.yaml (the store it names is the one exported or imported into)');
  return loadConfigFile(file, builtinRegistry());
}

/** Opens and migrates the config's store, runs `fn`, closes it. */
export async function withStore<T>(config: TollgateConfig, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await createStore(config.gateway.store);
  try {
    await store.migrate();
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** `tollgate config export [--config FILE] [--out FILE]`: stored entities as declarative YAML. */
export async function configExportCommand(opts: { config?: string; out?: string }): Promise<void> {
  const config = await configForStore(opts.config);
  // Exporting creates nothing: a SQLite path that holds no store is a wrong path (a relative
  // sqlite://./… resolved against another working directory), not an empty store.
  const target = parseStoreUrl(config.gateway.store);
  if (target.kind === 'sqlite' && target.path !== ':memory:' && !existsSync(target.path)) {
    throw new UserError(`gateway.store: ${target.path} does not exist (a relative sqlite:// path is resolved against the working directory, ${process.cwd()}); nothing to export`);
  }
  const doc = await withStore(config, exportEntityDocument);
  const yaml = `# tollgate config export (${new Date().toISOString()}): consumers, credentials, workspaces\n${entityDocumentYaml(doc)}`;
  if (opts.out === undefined) {
    process.stdout.write(yaml);
    return;
  }
  try {
    await writeFile(opts.out, yaml, { mode: 0o600 });
  } catch (err) {
    throw new UserError(`--out: cannot write ${opts.out}: ${(err as Error).message}`);
  }
  process.stderr.write(`exported ${(doc.consumers as unknown[]).length} consumers and ${(doc.workspaces as unknown[]).length} workspaces to ${opts.out}\n`);
}
