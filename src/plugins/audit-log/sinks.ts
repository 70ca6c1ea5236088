import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { AuditFile, type FileSinkOptions } from './fileSink.js';
import { HttpSink, type HttpSinkOptions } from './httpSink.js';
import { Spool } from './spool.js';
import { StdoutSink } from './stdoutSink.js';

/**
 * Sinks outlive the handlers that use them. A reload builds new handlers while the old ones may
 * still be finishing requests; both must write to the same file object (one hash chain, one
 * offset, one rotation) and the same HTTP queue (one spool reader, so no batch is sent twice).
 * Sinks are keyed by resolved path / endpoint + spool directory and never removed from these
 * maps: `users` counts the handlers holding one; the last to let go flushes and closes it, and a
 * record that arrives later (a request that outlived its config) reopens it.
 */
const files = new Map<string, AuditFile>();
const https = new Map<string, HttpSink>();
let stdout: StdoutSink | null = null;
let exitHook = false;

function installExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  // process.exit() after shutdown runs this synchronously: nothing queued is left behind.
  process.once('exit', () => {
    stdout?.flushNow();
    for (const f of files.values()) f.flushSync();
    for (const h of https.values()) h.spoolMemorySync();
  });
}

export async function acquireFile(path: string, opts: FileSinkOptions): Promise<AuditFile> {
  installExitHook();
  const key = resolve(path);
  let file = files.get(key);
  if (file) file.configure(opts);
  else {
    file = new AuditFile(key, opts);
    files.set(key, file);
  }
  file.users++;
  await file.open();
  return file;
}

export async function acquireHttp(opts: HttpSinkOptions, dataDir: string, spoolDir: string | undefined): Promise<HttpSink> {
  installExitHook();
  const dir = resolve(spoolDir ?? join(dataDir, 'audit-spool', createHash('sha256').update(opts.endpoint).digest('hex').slice(0, 16)));
  const key = `${opts.endpoint}\n${dir}`;
  let sink = https.get(key);
  if (sink) sink.configure(opts);
  else {
    sink = new HttpSink(opts, new Spool(dir));
    https.set(key, sink);
  }
  sink.users++;
  await sink.open();
  return sink;
}

export function acquireStdout(): StdoutSink {
  installExitHook();
  if (stdout === null) {
    blockingStdoutPipe();
    stdout = new StdoutSink();
  }
  return stdout;
}

/**
 * Node writes a stdout pipe asynchronously on Linux: when the reader stalls (a log agent
 * behind), libuv queues every write in memory without bound, and what is queued at exit is
 * lost. Blocking writes make a stalled reader hold the process up instead, with the pipe's
 * buffer as the bound, as a file or a terminal already do.
 */
function blockingStdoutPipe(): void {
  const out = process.stdout as unknown as { _type?: string; _handle?: { setBlocking?: (on: boolean) => number } };
  if (out._type === 'pipe') out._handle?.setBlocking?.(true);
}

/** A handler lets go of its sinks (reload replaced it, or shutdown): flush what it queued. */
export async function releaseSinks(sinks: { file: AuditFile | null; http: HttpSink | null; stdout: StdoutSink | null }, timeoutMs: number): Promise<void> {
  const work: Promise<void>[] = [];
  if (sinks.file) {
    sinks.file.users--;
    work.push(sinks.file.users === 0 ? sinks.file.close(timeoutMs) : sinks.file.flush(timeoutMs));
  }
  if (sinks.http) {
    sinks.http.users--;
    if (sinks.http.users === 0) work.push(sinks.http.close(timeoutMs));
  }
  if (sinks.stdout) work.push(sinks.stdout.flush(timeoutMs));
  await Promise.all(work);
}

/** One sink's health for `kong_audit_*` (sampled at scrape): every sink this process opened. */
export interface AuditSinkHealth {
  sink: 'file' | 'http';
  /** Records accepted and not yet written (file) or delivered (http). */
  pending: number;
  /** Failed write attempts, deliveries and refused batches since start. */
  errors: number;
}

export function auditSinkHealth(): AuditSinkHealth[] {
  const out: AuditSinkHealth[] = [];
  for (const f of files.values()) out.push({ sink: 'file', pending: f.pendingRecords(), errors: f.writeErrors });
  for (const h of https.values()) out.push({ sink: 'http', pending: h.pendingRecords(), errors: h.writeErrors });
  return out;
}
