import { z } from 'zod';
import { zHeaderName, zSeconds, zSize } from '../../config/units.js';

/** A header value the HTTP client can send (no CR, LF or NUL: undici refuses them, for good). */
const headerValue = z.string().refine((v) => !/[\r\n\0]/.test(v), 'a header value cannot hold CR, LF or NUL');

/**
 * `audit-log` config (SPEC §8). At least one sink: `path`, `stdout` or `http_endpoint`.
 * Durations take seconds or `500ms`/`2m`-style strings; sizes bytes or `100m`-style strings.
 */
export const auditLogSchema = z
  .strictObject({
    path: z.string().min(1).optional().describe('File sink: JSON lines appended to this file (created with its directories).'),
    rotate_size: zSize.prefault('100m').describe('Rotate the file once it reaches this size (bytes or `100m`); 0 = never by size.'),
    rotate_daily: z.boolean().default(true).describe('Rotate the file at the first write of each new UTC day.'),
    keep: z.number().int().min(1).max(100_000).default(14).describe('Rotated files kept (`<path>.<YYYY-MM-DD>.<n>`); older ones are deleted.'),
    stdout: z.boolean().default(false).describe('stdout sink: one JSON line per record on standard output.'),
    http_endpoint: z
      .url({ protocol: /^https?$/, error: 'expected an absolute http(s) URL' })
      .optional()
      .describe('HTTP sink: batches POSTed as JSON arrays; undelivered batches spool to disk and are re-sent.'),
    headers: z.record(zHeaderName('Authorization'), headerValue).default({}).describe('Extra headers on each POST (e.g. the collector\'s Authorization; use ${VAR}).'),
    timeout: zSeconds.refine((v) => v > 0, 'must be more than 0 (0 would let one hung POST stall delivery for good)').prefault(10).describe('Seconds one POST may take (connect, headers, body).'),
    batch_size: z.number().int().min(1).max(10_000).default(100).describe('Records per POST at most.'),
    flush_interval: zSeconds.prefault(1).describe('Seconds a partial batch waits for more records before it is sent.'),
    retry_delay: zSeconds.refine((v) => v >= 100, 'must be at least 0.1 s (0 would retry a failing endpoint in a tight loop)').prefault(1).describe('Seconds before the first retry of a failed POST; doubles per failure.'),
    max_retry_delay: zSeconds.prefault(60).describe('Longest wait between retries.'),
    spool_dir: z.string().min(1).optional().describe('Where undelivered batches wait (default `<data_dir>/audit-spool/<hash of endpoint>`).'),
    flush_timeout: zSeconds.prefault(10).describe('Seconds a reload or shutdown waits for queued records to be written or delivered; the rest is spooled.'),
    buffer_size: z.number().int().min(1).max(1_000_000).default(10_000).describe('Records queued in memory per sink; beyond it the log phase writes synchronously (file) or spools (HTTP).'),
    tamper_evident: z.boolean().default(false).describe('Add `prev_hash`/`hash` (SHA-256 chain) to each file line; check with `tollgate audit verify`. Needs `path`.'),
  })
  .superRefine((v, ctx) => {
    if (v.path === undefined && !v.stdout && v.http_endpoint === undefined) {
      ctx.addIssue({ code: 'custom', path: [], message: 'set at least one sink: path, stdout: true or http_endpoint' });
    }
    if (v.tamper_evident && v.path === undefined) {
      ctx.addIssue({ code: 'custom', path: ['tamper_evident'], message: 'the hash chain lives in the audit file: set path too' });
    }
    if (v.max_retry_delay < v.retry_delay) {
      ctx.addIssue({ code: 'custom', path: ['max_retry_delay'], message: 'must not be shorter than retry_delay' });
    }
  });

export type AuditLogConfig = z.infer<typeof auditLogSchema>;
