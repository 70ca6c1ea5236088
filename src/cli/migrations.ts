import { builtinRegistry } from '../plugins/index.js';
import { loadConfigFile, validateConfig } from '../config/load.js';
import { createStore } from '../store/index.js';
import { resolveConfigFile } from './start.js';

/** `tollgate migrations up`: applies pending store migrations for the configured store. */
export async function migrationsUpCommand(opts: { config?: string }): Promise<void> {
  const file = resolveConfigFile(opts.config);
  const registry = builtinRegistry();
  const config = file ? await loadConfigFile(file, registry) : validateConfig('<defaults>', {}, registry);
  const store = await createStore(config.gateway.store);
  try {
    const applied = await store.migrate();
    process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'store is up to date\n');
  } finally {
    await store.close();
  }
}
