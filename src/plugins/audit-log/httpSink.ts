import { randomUUID } from 'node:crypto';
import { spillToStderr } from './stderrSpill.js';
import type { Logger } from 'pino';
import { Agent, request } from 'undici';
import { Spool } from './spool.js';

export interface HttpSinkOptions {
  endpoint: string;
  headers: Record<string, string>;
  /** ms: connect, headers and body timeout of one POST. */
  timeout: number;
  batchSize: number;
  /** ms a partial batch waits for more records. */
  flushInterval: number;
  /** ms before the first retry; doubles per failure up to `maxRetryDelay`. */
  retryDelay: number;
  maxRetryDelay: number;
  /** Records held in memory (not yet on disk) before batches are spooled synchronously. */
  bufferSize: number;
  logger: Logger;
  /** Where batches go when neither the endpoint nor the spool takes them (default: stderr). */
  spill?: (text: string) => void;
}

/** Records in memory, in multiples of bufferSize, before batches the spool refuses go to stderr. */
const SPILL_FACTOR = 10;
/** A spool failure this recent means the spool refuses writes. */
const SPOOL_FAILING_MS = 60_000;

const toStderr = (text: string): void => spillToStderr(Buffer.from(text));

interface Batch {
  seq: number;
  id: string;
  count: number;
  /** In memory until spooled. */
  body: string | null;
  /** On disk once spooled. */
  file: string | null;
  spooling: Promise<void> | null;
  /** Its records are counted in `HttpSink.unspooled` (in memory only: not on disk, not delivered). */
  counted: boolean;
}

/** `gone`: a spooled batch whose file another process took (it shares the spool) and sent. */
type Outcome = 'delivered' | 'retry' | 'rejected' | 'gone';

/** The endpoint without credentials or query, for logs. */
export function safeEndpoint(endpoint: string): string {
  try {
    const u = new URL(endpoint);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '<invalid url>';
  }
}

/**
 * Where a POST goes and with which credentials: userinfo in `http_endpoint`
 * (`https://user:pass@collector/…`), which undici does not send, becomes
 * `Authorization: Basic …` unless `headers` sets an Authorization of its own.
 */
function postTarget(endpoint: string, headers: Record<string, string>): { url: string; headers: Record<string, string> } {
  const out: Record<string, string> = { ...headers, 'content-type': 'application/json' };
  let url = endpoint;
  try {
    const u = new URL(endpoint);
    if (u.username !== '' || u.password !== '') {
      const userinfo = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
      u.username = '';
      u.password = '';
      url = u.toString();
      if (!Object.keys(headers).some((k) => k.toLowerCase() === 'authorization')) out.authorization = `Basic ${Buffer.from(userinfo).toString('base64')}`;
    }
  } catch {
    /* validated by the schema; request() reports anything else */
  }
  return { url, headers: out };
}

/** Statuses that say the endpoint (its address, its credentials) is wrong for now, not the batch: retried, like a 5xx. */
const ENDPOINT_STATUSES = new Set([401, 403, 404, 408, 429]);

/**
 * Ships audit records to `http_endpoint` as POSTed JSON arrays (SPEC §8). Records are batched
 * (`batch_size`, or after `flush_interval`) and sent one batch at a time, oldest first, each
 * with `Idempotency-Key: <batch id>` so a receiver can drop a batch it already has (a POST
 * whose answer was lost is sent again: delivery is at least once, exactly once with a
 * receiver that honours the key). A failed POST (network error, timeout, 5xx; 401, 403, 404,
 * 408, 429: the endpoint's address or credentials, not the batch) sends
 * that batch and every batch behind it to the disk spool and retries with exponential backoff
 * (`retry_delay` doubling up to `max_retry_delay`); spooled batches are re-sent in order as
 * soon as the endpoint answers, including by the next process after a restart. Another 4xx
 * refusal (400, 413, 422: this batch) is final: the batch moves to `<spool>/rejected/` and is
 * logged, never silently dropped.
 */
export class HttpSink {
  users = 0;
  /** Failed deliveries, refused batches and failed spool writes since start (`kong_audit_write_errors_total`). */
  writeErrors = 0;
  private records: string[] = [];
  private queue: Batch[] = [];
  /** Records of queued batches that are neither on disk nor delivered (kept, not recounted per append). */
  private unspooled = 0;
  private target: { url: string; headers: Record<string, string> };
  private nextSeq = 1;
  private failures = 0;
  /** After a failed spool write, the overflow path waits until then before it tries again. */
  private spoolRetryAt = 0;
  private lastSpoolErrorLog = 0;
  private spoolFailedAt = 0;
  private lastSpillLog = 0;
  /** Records written to stderr instead (spill) since start. */
  spilledRecords = 0;
  private sending: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private readonly agent: Agent;
  private loaded: Promise<void> | null = null;

  constructor(
    private opts: HttpSinkOptions,
    private readonly spool: Spool,
  ) {
    this.agent = new Agent({ connect: { timeout: opts.timeout }, keepAliveTimeout: 10_000 });
    this.target = postTarget(opts.endpoint, opts.headers);
  }

  configure(opts: HttpSinkOptions): void {
    this.opts = opts;
    this.target = postTarget(opts.endpoint, opts.headers);
  }

  /** Picks up what earlier runs spooled; safe to call again. */
  open(): Promise<void> {
    this.loaded ??= this.spool.load().then((found) => {
      for (const f of found) this.queue.push({ seq: f.seq, id: f.id, count: 0, body: null, file: f.file, spooling: null, counted: false });
      this.queue.sort((a, b) => a.seq - b.seq);
      this.nextSeq = Math.max(this.nextSeq, ...found.map((f) => f.seq + 1));
      if (found.length > 0) this.opts.logger.info({ batches: found.length, endpoint: safeEndpoint(this.opts.endpoint) }, 'audit: re-sending spooled batches');
      this.pump();
    });
    return this.loaded;
  }

  /** Log phase: queue one record (a JSON object's text). */
  append(json: string): void {
    this.records.push(json);
    if (this.records.length >= this.opts.batchSize) this.cut();
    else if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => this.cut(), this.opts.flushInterval);
      this.flushTimer.unref();
    }
    // Beyond the buffer: to disk, now. While the spool fails (disk full), once a second, not
    // once per request: the records stay in memory meanwhile.
    if (this.inMemory() >= this.opts.bufferSize && Date.now() >= this.spoolRetryAt) this.spoolMemorySync();
    if (this.inMemory() >= this.opts.bufferSize * SPILL_FACTOR && this.spoolFailedAt > 0 && Date.now() - this.spoolFailedAt < SPOOL_FAILING_MS) this.spillMemory();
  }

  /**
   * The endpoint is not taking batches and the spool cannot be written either (disk full):
   * rather than growing memory until the process is killed (and every record with it), the
   * batches held only in memory go to stderr, one JSON array per line, in order, where the
   * pod's log collector keeps them. The batch being sent stays.
   */
  private spillMemory(): void {
    this.cut();
    let n = 0;
    for (const b of [...this.queue]) {
      if (b.body === null || b.file !== null || b.spooling !== null || (this.sending !== null && b === this.queue[0])) continue;
      try {
        (this.opts.spill ?? toStderr)(`${b.body}\n`);
      } catch (err) {
        this.spoolFailed(err); // stderr refuses too: the rest stays in memory, tried again later
        break;
      }
      n += b.count;
      this.dequeue(b);
    }
    this.spilledRecords += n;
    const now = Date.now();
    if (n > 0 && now - this.lastSpillLog > 10_000) {
      this.lastSpillLog = now;
      this.opts.logger.error({ endpoint: safeEndpoint(this.opts.endpoint), records: n, spilled_total: this.spilledRecords }, 'audit: neither the endpoint nor the spool takes batches; records written to stderr instead (one JSON array per line, before this line)');
    }
  }

  /** Records queued or spooled by this process and not delivered yet (batches an earlier process spooled are not counted). */
  pendingRecords(): number {
    let n = this.records.length;
    for (const b of this.queue) n += b.count;
    return n;
  }

  /** Records still in memory only (not on disk, not delivered). */
  private inMemory(): number {
    return this.records.length + this.unspooled;
  }

  /** The batch is on disk, or out of the queue: its records no longer count as in memory only. */
  private uncount(batch: Batch): void {
    if (!batch.counted) return;
    batch.counted = false;
    this.unspooled -= batch.count;
  }

  private dequeue(batch: Batch): void {
    this.queue.splice(this.queue.indexOf(batch), 1);
    this.uncount(batch);
  }

  private cut(): void {
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = null;
    }
    if (this.records.length === 0) return;
    const batch: Batch = { seq: this.nextSeq++, id: randomUUID(), count: this.records.length, body: `[${this.records.join(',')}]`, file: null, spooling: null, counted: true };
    this.unspooled += batch.count;
    this.records = [];
    this.queue.push(batch);
    if (this.failures > 0) this.spoolAsync(batch);
    this.pump();
  }

  private pump(): void {
    if (this.sending || this.retryTimer || this.queue.length === 0 || !this.loaded) return;
    const batch = this.queue[0]!;
    this.sending = this.deliver(batch)
      .then((outcome) => this.settle(batch, outcome))
      .finally(() => {
        this.sending = null;
        this.pump();
      });
  }

  private async settle(batch: Batch, outcome: Outcome): Promise<void> {
    if (outcome === 'gone') {
      this.dequeue(batch);
      this.opts.logger.debug({ file: batch.file }, 'audit: a spooled batch was taken by another process sharing the spool');
      return;
    }
    if (outcome !== 'delivered') this.writeErrors++;
    if (outcome === 'retry') {
      this.failures++;
      for (const b of this.queue) this.spoolAsync(b);
      const delay = Math.min(this.opts.maxRetryDelay, this.opts.retryDelay * 2 ** Math.min(this.failures - 1, 30));
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.pump();
      }, delay * (0.8 + Math.random() * 0.4));
      this.retryTimer.unref();
      return;
    }
    this.failures = 0;
    this.dequeue(batch);
    await batch.spooling;
    if (outcome === 'delivered') {
      if (batch.file) await this.spool.remove(batch.file);
    } else {
      const where = await this.spool.reject(batch.seq, batch.id, batch.file, batch.body).catch(() => '(could not be kept)');
      this.opts.logger.error({ endpoint: safeEndpoint(this.opts.endpoint), batch: batch.id, kept: where }, 'audit: the endpoint refused a batch for good (4xx); it was moved aside');
    }
  }

  private async deliver(batch: Batch): Promise<Outcome> {
    let body = batch.body;
    try {
      body ??= await this.spool.read(batch.file!);
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return 'gone';
      this.opts.logger.error({ err, file: batch.file }, 'audit: a spooled batch could not be read');
      return 'rejected';
    }
    try {
      const res = await request(this.target.url, {
        method: 'POST',
        dispatcher: this.agent,
        headers: { ...this.target.headers, 'idempotency-key': batch.id },
        body,
        headersTimeout: this.opts.timeout,
        bodyTimeout: this.opts.timeout,
      });
      await res.body.dump();
      if (res.statusCode >= 200 && res.statusCode < 300) return 'delivered';
      const retryable = res.statusCode >= 500 || ENDPOINT_STATUSES.has(res.statusCode);
      if (retryable) this.warnOnce(res.statusCode === 401 || res.statusCode === 403 ? `status ${res.statusCode}: check the credentials in headers (or the endpoint's userinfo)` : `status ${res.statusCode}`);
      return retryable ? 'retry' : 'rejected';
    } catch (err) {
      this.warnOnce((err as { code?: string }).code ?? (err as Error).message);
      return 'retry';
    }
  }

  private warnOnce(why: string): void {
    if (this.failures > 0) return; // one line per outage, not per retry
    this.opts.logger.warn({ endpoint: safeEndpoint(this.opts.endpoint), why }, 'audit: endpoint unavailable; spooling batches to disk and retrying');
  }

  private spoolAsync(batch: Batch): void {
    if (batch.file || batch.spooling || batch.body === null) return;
    const body = batch.body;
    batch.spooling = this.spool.write(batch.seq, batch.id, body).then(
      (file) => {
        batch.file = file;
        batch.body = null;
        batch.spooling = null;
        this.uncount(batch);
      },
      (err: unknown) => {
        batch.spooling = null;
        this.spoolFailed(err);
      },
    );
  }

  /** Beyond the bounded buffer, and at exit: everything in memory goes to disk, now. */
  spoolMemorySync(): void {
    if (this.flushTimer || this.records.length > 0) this.cut();
    for (const b of this.queue) {
      if (b.file || b.spooling || b.body === null) continue;
      try {
        b.file = this.spool.writeSync(b.seq, b.id, b.body);
        b.body = null;
        this.uncount(b);
      } catch (err) {
        this.spoolRetryAt = Date.now() + 1000;
        this.spoolFailed(err);
        return;
      }
    }
  }

  /** One error line every 10 s while the spool cannot be written (disk full, read-only). */
  private spoolFailed(err: unknown): void {
    this.writeErrors++;
    const now = Date.now();
    this.spoolFailedAt = now;
    if (now - this.lastSpoolErrorLog < 10_000) return;
    this.lastSpoolErrorLog = now;
    this.opts.logger.error({ err, dir: this.spool.dir, in_memory: this.inMemory() }, 'audit: could not spool batches to disk; they stay in memory and spooling is retried every second');
  }

  /**
   * The last handler let go (reload or shutdown): send what is queued while the endpoint
   * answers, for at most `timeoutMs`; whatever is left goes to the spool for the next run.
   * The retry loop keeps going in the background while the process lives.
   */
  async close(timeoutMs: number): Promise<void> {
    this.cut();
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length > 0 && this.failures === 0 && Date.now() < deadline) {
      this.pump();
      const current = this.sending as Promise<void> | null;
      if (!current) break;
      await Promise.race([current, new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())).unref())]);
    }
    // A delivery still settling (its spool file being removed) finishes first.
    const last = this.sending as Promise<void> | null;
    if (last !== null) await Promise.race([last, new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())).unref())]);
    for (const b of this.queue) this.spoolAsync(b);
    await Promise.all(this.queue.map((b) => b.spooling));
  }
}
