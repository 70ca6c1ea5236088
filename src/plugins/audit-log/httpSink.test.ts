import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { HttpSink, type HttpSinkOptions } from './httpSink.js';
import { Spool } from './spool.js';
import { waitFor } from '../../../test/helpers/ports.js';

interface Received {
  key: string;
  auth: string | undefined;
  ids: number[];
}

describe('HttpSink (in process, against a scripted collector)', () => {
  let dir: string;
  let server: Server;
  let url: string;
  let received: Received[];
  /** Status for each POST, in order; 204 once the script is used up. */
  let script: number[];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-httpsink-'));
    received = [];
    script = [];
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const status = script.shift() ?? 204;
        if (status < 300) received.push({ key: String(req.headers['idempotency-key']), auth: req.headers.authorization, ids: (JSON.parse(body) as { n: number }[]).map((r) => r.n) });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/audit`;
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  const sink = async (over: Partial<HttpSinkOptions> = {}) => {
    const s = new HttpSink(
      { endpoint: url, headers: { authorization: 'Bearer collector-token' }, timeout: 2000, batchSize: 2, flushInterval: 50, retryDelay: 50, maxRetryDelay: 200, bufferSize: 1000, logger: pino({ level: 'silent' }), ...over },
      new Spool(join(dir, 'spool')),
    );
    s.users = 1;
    await s.open();
    return s;
  };
  const delivered = () => received.flatMap((r) => r.ids);

  it('a spooled batch another process sharing the spool already sent is dropped quietly, not refused as a 4xx', async () => {
    // Ten batches left on disk by a run whose endpoint was unreachable.
    const first = await sink({ endpoint: 'http://127.0.0.1:1/audit' });
    for (let n = 1; n <= 20; n++) first.append(JSON.stringify({ n }));
    await first.close(200);
    expect(readdirSync(join(dir, 'spool')).filter((f) => f.endsWith('.json'))).toHaveLength(10);
    script = [503]; // b's first POST fails; while it waits to retry, a sends everything
    const b = await sink({ retryDelay: 600, maxRetryDelay: 600 });
    await waitFor(() => received.length === 0 && script.length === 0, "b's failed first POST");
    const a = await sink();
    await waitFor(() => delivered().length === 20, 'every record delivered by a');
    await a.close(1000);
    await waitFor(() => readdirSync(join(dir, 'spool')).filter((f) => f.endsWith('.json')).length === 0, 'the spool emptied');
    await new Promise((r) => setTimeout(r, 1000)); // b's retry finds its files gone
    await b.close(1000);
    expect(b.writeErrors).toBe(1); // the 503, nothing else
    expect(readdirSync(join(dir, 'spool', 'rejected'))).toEqual([]);
    expect(new Set(delivered()).size).toBe(20);
  });

  it('retries 5xx/429 with backoff and delivers each record once, in order, with its batch key and headers', async () => {
    script = [503, 429, 500];
    const s = await sink();
    for (let n = 1; n <= 7; n++) s.append(JSON.stringify({ n }));
    await waitFor(() => delivered().length >= 7, 'all delivered');
    expect(delivered()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(new Set(received.map((r) => r.key)).size).toBe(received.length);
    expect(received.every((r) => r.auth === 'Bearer collector-token')).toBe(true);
    s.users = 0;
    await s.close(1000);
    expect(readdirSync(join(dir, 'spool')).filter((f) => f.endsWith('.json'))).toEqual([]);
  });

  it('a 4xx refusal is final: the batch is kept under rejected/ and the rest goes on', async () => {
    script = [400];
    const s = await sink();
    for (let n = 1; n <= 4; n++) s.append(JSON.stringify({ n }));
    await waitFor(() => delivered().length >= 2, 'the second batch delivered');
    const rejected = join(dir, 'spool', 'rejected');
    await waitFor(() => existsSync(rejected) && readdirSync(rejected).length === 1, 'the refused batch kept');
    const kept = JSON.parse(readFileSync(join(rejected, readdirSync(rejected)[0]!), 'utf8')) as { n: number }[];
    expect(kept.map((r) => r.n)).toEqual([1, 2]);
    expect(delivered()).toEqual([3, 4]);
    s.users = 0;
    await s.close(1000);
  });

  it('401, 403 and 404 (the endpoint\'s credentials or address, not the batch) are retried like a 5xx: nothing moved aside', async () => {
    script = [401, 403, 404];
    const s = await sink();
    for (let n = 1; n <= 4; n++) s.append(JSON.stringify({ n }));
    await waitFor(() => delivered().length >= 4, 'all delivered once the endpoint accepts');
    expect(delivered()).toEqual([1, 2, 3, 4]);
    expect(existsSync(join(dir, 'spool', 'rejected')) ? readdirSync(join(dir, 'spool', 'rejected')) : []).toEqual([]);
    s.users = 0;
    await s.close(1000);
  });

  it('userinfo in http_endpoint is sent as Basic credentials (and left out of the URL); an Authorization in headers wins', async () => {
    const withUser = url.replace('http://', 'http://auditor:p%40ss@');
    const a = await sink({ endpoint: withUser, headers: {} });
    a.append(JSON.stringify({ n: 1 }));
    a.append(JSON.stringify({ n: 2 }));
    await waitFor(() => delivered().length >= 2, 'delivered');
    expect(received[0]!.auth).toBe(`Basic ${Buffer.from('auditor:p@ss').toString('base64')}`);
    a.users = 0;
    await a.close(1000);
    const b = await sink({ endpoint: withUser });
    b.append(JSON.stringify({ n: 3 }));
    b.append(JSON.stringify({ n: 4 }));
    await waitFor(() => delivered().length >= 4, 'delivered');
    expect(received[1]!.auth).toBe('Bearer collector-token');
    b.users = 0;
    await b.close(1000);
  });

  it('beyond buffer_size records go to the spool synchronously, and are delivered from it', async () => {
    script = [503];
    const s = await sink({ bufferSize: 3, batchSize: 100, flushInterval: 10_000 });
    for (let n = 1; n <= 3; n++) s.append(JSON.stringify({ n }));
    expect(readdirSync(join(dir, 'spool')).filter((f) => f.endsWith('.json'))).toHaveLength(1);
    await waitFor(() => delivered().length >= 3, 'spooled batch delivered');
    expect(delivered()).toEqual([1, 2, 3]);
    s.users = 0;
    await s.close(1000);
  });

  it('while the spool cannot be written: tried once a second, one error line, records kept in memory and delivered later', async () => {
    script = Array(50).fill(503);
    const lines: string[] = [];
    let attempts = 0;
    class CountingSpool extends Spool {
      override writeSync(seq: number, id: string, body: string): string {
        attempts++;
        return super.writeSync(seq, id, body);
      }
    }
    // A spool directory below a regular file: every write fails (ENOTDIR), as on a full disk.
    writeFileSync(join(dir, 'not-a-dir'), '');
    const s = new HttpSink(
      // 500 records stay within the 10 × bufferSize that memory may hold while the spool fails
      { endpoint: url, headers: {}, timeout: 2000, batchSize: 100, flushInterval: 200, retryDelay: 50, maxRetryDelay: 100, bufferSize: 60, logger: pino({ level: 'error' }, { write: (l: string) => void lines.push(l) }) },
      new CountingSpool(join(dir, 'not-a-dir', 'spool')),
    );
    s.users = 1;
    await s.open().catch(() => undefined);
    for (let n = 1; n <= 500; n++) s.append(JSON.stringify({ n }));
    expect(attempts).toBe(1);
    expect(lines.filter((l) => l.includes('could not spool'))).toHaveLength(1);
    script = [];
    await waitFor(() => delivered().length >= 500, 'every record delivered once the collector answers', 20_000);
    expect(delivered()).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    s.users = 0;
    await s.close(1000);
  });

  it('collector and spool both down: memory stays bounded (10 × buffer_size), the overflow goes to stderr in order, not lost', async () => {
    script = Array(1000).fill(503);
    const spilled: string[] = [];
    writeFileSync(join(dir, 'not-a-dir'), '');
    const s = new HttpSink(
      { endpoint: url, headers: {}, timeout: 2000, batchSize: 10, flushInterval: 200, retryDelay: 50, maxRetryDelay: 100, bufferSize: 5, logger: pino({ level: 'silent' }), spill: (text) => spilled.push(text) },
      new Spool(join(dir, 'not-a-dir', 'spool')),
    );
    s.users = 1;
    await s.open().catch(() => undefined);
    for (let n = 1; n <= 500; n++) s.append(JSON.stringify({ n }));
    expect(s.pendingRecords()).toBeLessThanOrEqual(60);
    const out = spilled.join('').split('\n').filter((l) => l !== '').flatMap((l) => JSON.parse(l) as Array<{ n: number }>).map((r) => r.n);
    expect(out.length + s.pendingRecords()).toBe(500);
    expect(out).toEqual([...out].sort((a, b) => a - b)); // in order
    s.users = 0;
    await s.close(100);
  });
});

describe('Spool', () => {
  it('a write that fails half-way (ENOSPC) leaves no .tmp file behind', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-spool-'));
    try {
      const spool = new Spool(dir);
      // The temp file is a link to /dev/full: the write fails with ENOSPC, as on a full disk.
      symlinkSync('/dev/full', join(dir, `${String(7).padStart(12, '0')}-batch.json.tmp`));
      expect(() => spool.writeSync(7, 'batch', '[{"n":1}]')).toThrow(/ENOSPC/);
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
