import { resolve } from 'node:path';
import { definePlugin, type PluginConfigIssue } from '../../core/plugin.js';
import type { PluginEntry } from '../../config/schema.js';
import { INVALID, type ConfigParts, type Part } from '../../config/parts.js';
import { auditLogSchema, type AuditLogConfig } from './schema.js';
import { buildRecord, serializeRecord } from './record.js';
import { acquireFile, acquireHttp, acquireStdout, releaseSinks } from './sinks.js';

/** Every audit-log entry of the file (global, service and route scopes) that passed the schema. */
function auditEntries(root: ConfigParts): AuditLogConfig[] {
  const entries: Part<PluginEntry>[] = [...root.plugins];
  for (const s of root.services) {
    if (s === INVALID) continue;
    entries.push(...s.plugins);
    for (const r of s.routes) if (r !== INVALID) entries.push(...r.plugins);
  }
  return entries.filter((e): e is PluginEntry => e !== INVALID && e.name === 'audit-log' && e.enabled).map((e) => e.config as AuditLogConfig);
}

/**
 * `audit-log` (SPEC §8): one JSON record per request, written after the response closed, for
 * routed and refused requests alike. The log phase only builds the record, chains it (when
 * tamper_evident) and queues it; sinks (sinks.ts) write, rotate, batch, retry and spool.
 */
export default definePlugin<AuditLogConfig>({
  name: 'audit-log',
  version: '1.0.0',
  phase: 'log',
  schema: auditLogSchema,
  // model_name, tools_used and token counts come from src/ai, the parser the budget uses.
  observesAi: true,
  check(config, root): PluginConfigIssue[] {
    if (config.path === undefined) return [];
    const same = auditEntries(root).filter((c) => c.path !== undefined && resolve(c.path) === resolve(config.path!));
    if (same.some((c) => c.tamper_evident !== config.tamper_evident)) {
      return [{ path: ['tamper_evident'], message: `every audit-log writing ${config.path} must agree on tamper_evident (one file, one hash chain)` }];
    }
    return [];
  },
  async create(config, env) {
    const logger = env.logger;
    const file = config.path
      ? await acquireFile(config.path, {
          rotateSize: config.rotate_size,
          rotateDaily: config.rotate_daily,
          keep: config.keep,
          tamperEvident: config.tamper_evident,
          bufferSize: config.buffer_size,
          logger,
        })
      : null;
    const http = config.http_endpoint
      ? await acquireHttp(
          {
            endpoint: config.http_endpoint,
            headers: config.headers,
            timeout: config.timeout,
            batchSize: config.batch_size,
            flushInterval: config.flush_interval,
            retryDelay: config.retry_delay,
            maxRetryDelay: config.max_retry_delay,
            bufferSize: config.buffer_size,
            logger,
          },
          env.dataDir,
          config.spool_dir,
        )
      : null;
    const stdout = config.stdout ? acquireStdout() : null;
    return {
      log(ctx) {
        const record = buildRecord(ctx);
        const plain = serializeRecord(record);
        const line = file ? file.append(record, plain) : plain;
        stdout?.append(line);
        http?.append(line);
      },
      close: () => releaseSinks({ file, http, stdout }, config.flush_timeout),
    };
  },
});
