import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
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
});
