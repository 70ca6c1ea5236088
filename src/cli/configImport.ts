import { readFile } from 'node:fs/promises';
import { ConfigError } from '../config/load.js';
import { UserError } from '../core/errors.js';
import { DuplicateEntityError } from '../store/types.js';
import { importEntityDocument, parseEntityDocument } from '../admin/entityDocument.js';
import { configForStore, withStore } from './configExport.js';

/**
 * `tollgate config import [--config FILE] IMPORT_FILE`: merges the file's consumers,
 * credentials and workspaces into the configured store (upsert; nothing is deleted). Running
 * gateways see the change within `gateway.db_cache_ttl`.
 */
export async function configImportCommand(file: string, opts: { config?: string }): Promise<void> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(file, [{ path: '', message: `cannot read: ${code === 'ENOENT' ? 'file not found' : (err as Error).message}` }]);
  }
  const doc = parseEntityDocument(file, text);
  const config = await configForStore(opts.config);
  const counts = await withStore(config, async (store) => {
    try {
      return { ...(await importEntityDocument(store, doc)), location: store.location };
    } catch (err) {
      if (err instanceof DuplicateEntityError) throw new UserError(`${file}: ${err.message} in the store; change or remove that entry`);
      if (err instanceof UserError) throw new UserError(`${file}: ${err.message}`);
      throw err;
    }
  });
  const kept = counts.kept.length > 0 ? `; kept as the config file declares them: ${counts.kept.join(', ')}` : '';
  process.stdout.write(`imported ${counts.consumers} consumers and ${counts.workspaces} workspaces into ${counts.location}${kept}\n`);
}
