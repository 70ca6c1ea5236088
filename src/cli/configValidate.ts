import pino from 'pino';
import { builtinRegistry } from '../plugins/index.js';
import { ConfigError, loadConfigFile } from '../config/load.js';
import { UserError } from '../core/errors.js';
import { loadTlsMaterial } from '../server/tls.js';

/**
 * `tollgate config validate FILE`: exit 0 when valid, else exit 2 with `FILE: path: problem`
 * lines. Files the config names are read as start reads them (signing keys in the config
 * check, the TLS certificate and key here), so validate fails where start would.
 */
export async function configValidateCommand(file: string): Promise<void> {
  const config = await loadConfigFile(file, builtinRegistry());
  const { cert, key } = config.gateway.tls;
  if (cert !== undefined && key !== undefined) {
    try {
      await loadTlsMaterial(config.gateway, config.gateway.data_dir, pino({ enabled: false }));
    } catch (err) {
      // Its messages begin with the field (`gateway.tls.key: cannot read …`).
      if (err instanceof UserError) throw new ConfigError(file, [{ path: '', message: err.message }]);
      throw err;
    }
  }
  process.stdout.write(`${file}: ok\n`);
}
