import { builtinRegistry } from '../plugins/index.js';
import { loadConfigFile } from '../config/load.js';

/** `tollgate config validate FILE`: exit 0 when valid, else exit 2 with `FILE: path: problem` lines. */
export async function configValidateCommand(file: string): Promise<void> {
  await loadConfigFile(file, builtinRegistry());
  process.stdout.write(`${file}: ok\n`);
}
