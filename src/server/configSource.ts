import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { TollgateConfig } from '../config/schema.js';
import { ConfigError, configFromText, readConfigFile, validateConfig } from '../config/load.js';
import type { PluginRegistry } from '../core/registry.js';

/**
 * Where the config comes from: a file (re-read on SIGHUP and when its content changes; polled,
 * because editors and Kubernetes ConfigMaps replace files in ways watchers miss), or an
 * in-memory document (the demo).
 */
export class ConfigSource {
  hash = '';
  private timer: NodeJS.Timeout | null = null;

  private constructor(
    readonly file: string | null,
    private readonly registry: PluginRegistry,
    private readonly env: NodeJS.ProcessEnv,
    private readonly document: unknown,
    /** What error lines call an in-memory document (`<demo>`). */
    private readonly label = file ?? '<config>',
  ) {}

  static fromFile(file: string, registry: PluginRegistry, env: NodeJS.ProcessEnv = process.env): ConfigSource {
    return new ConfigSource(file, registry, env, undefined);
  }

  static fromDocument(name: string, document: unknown, registry: PluginRegistry, env: NodeJS.ProcessEnv = process.env): ConfigSource {
    const src = new ConfigSource(null, registry, env, document, name);
    src.hash = contentHash(JSON.stringify(document));
    return src;
  }

  /**
   * Loads and validates; throws ConfigError. The file is read once: the config applied and the
   * hash the poll compares against come from the same bytes (were they read separately, an edit
   * landing in between would be recorded as seen and never applied). On a reload an empty file
   * is refused: it is what a poll sees between the truncate and the write of a file being
   * rewritten in place, and applying it would drop every service (and the config's consumers
   * from the store).
   */
  async load(reload = false): Promise<TollgateConfig> {
    if (this.file === null) return validateConfig(this.label, this.document, this.registry, this.env);
    const bytes = await readConfigFile(this.file);
    const text = bytes.toString('utf8');
    if (reload && text.trim() === '') {
      throw new ConfigError(this.file, [{ path: '', message: 'the file is empty (still being written?); not applied. To remove every service, write `services: []`' }]);
    }
    const config = configFromText(this.file, text, this.registry, this.env);
    this.hash = contentHash(bytes);
    return config;
  }

  private async fileHash(): Promise<string> {
    if (this.file === null) return this.hash;
    return contentHash(await readFile(this.file));
  }

  /** Calls `onChange` when the file's content hash changes (checked every `pollMs`). */
  watch(onChange: () => void, logger: Logger, pollMs = 2000): void {
    if (this.file === null || this.timer) return;
    this.timer = setInterval(() => {
      this.fileHash().then(
        (h) => {
          if (h !== this.hash) {
            this.hash = h;
            onChange();
          }
        },
        (err: unknown) => logger.debug({ err }, 'config file not readable right now'),
      );
    }, pollMs);
    this.timer.unref();
  }

  stopWatching(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

function contentHash(content: Buffer | string): string {
  return createHash('sha256').update(content).digest('hex').slice(0, 16);
}
