import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type PeerCertificate } from 'node:tls';
import { connect as netConnect, type Socket } from 'node:net';
import { mkdtempSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startGateway, type GatewayProcess } from './helpers/gateway.js';
import { waitFor } from './helpers/ports.js';
import { generateSelfSigned } from '../src/server/tls.js';

function handshake(port: number, opts: { maxVersion?: 'TLSv1.2' | 'TLSv1.3' } = {}): Promise<{ protocol: string | null; cert: PeerCertificate }> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', rejectUnauthorized: false, servername: 'localhost', ...opts }, () => {
      const out = { protocol: s.getProtocol(), cert: s.getPeerCertificate() };
      s.end();
      resolve(out);
    });
    s.on('error', reject);
  });
}

describe('TLS', () => {
  let gw: GatewayProcess;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-tls-'));
    const first = await generateSelfSigned();
    writeFileSync(join(dir, 'tls.crt'), first.cert);
    writeFileSync(join(dir, 'tls.key'), first.key);
    gw = await startGateway({ gateway: { tls: { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key') } } });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('speaks TLS 1.3 and refuses TLS 1.2 by default', async () => {
    const ok = await handshake(gw.ports.proxy_tls!);
    expect(ok.protocol).toBe('TLSv1.3');
    await expect(handshake(gw.ports.proxy_tls!, { maxVersion: 'TLSv1.2' })).rejects.toThrow(/protocol version|alert|handshake/i);
  });

  it('serves a renewed certificate to new handshakes without a restart', async () => {
    const before = (await handshake(gw.ports.proxy_tls!)).cert.fingerprint256;
    const next = await generateSelfSigned();
    // Like a Kubernetes Secret update: new files land atomically.
    writeFileSync(join(dir, 'tls.key.new'), next.key);
    writeFileSync(join(dir, 'tls.crt.new'), next.cert);
    renameSync(join(dir, 'tls.key.new'), join(dir, 'tls.key'));
    renameSync(join(dir, 'tls.crt.new'), join(dir, 'tls.crt'));
    const after = await waitFor(async () => {
      const fp = (await handshake(gw.ports.proxy_tls!)).cert.fingerprint256;
      return fp !== before ? fp : undefined;
    }, 'the renewed certificate', 10_000);
    expect(after).not.toBe(before);
    expect(gw.child.exitCode).toBeNull();
  });

  it('a renewal that does not load keeps the current certificate, and says so once, not every poll', async () => {
    const before = (await handshake(gw.ports.proxy_tls!)).cert.fingerprint256;
    const [a, b] = [await generateSelfSigned(), await generateSelfSigned()];
    const warnings = () => gw.stderr().split('does not load yet').length - 1;
    const seen = warnings();
    writeFileSync(join(dir, 'tls.key.new'), b.key); // a key that is not the certificate's
    writeFileSync(join(dir, 'tls.crt.new'), a.cert);
    renameSync(join(dir, 'tls.key.new'), join(dir, 'tls.key'));
    renameSync(join(dir, 'tls.crt.new'), join(dir, 'tls.crt'));
    await waitFor(() => warnings() > seen || undefined, 'the warning', 10_000);
    await new Promise((r) => setTimeout(r, 1500)); // several polls (200 ms here)
    expect(warnings() - seen).toBe(1);
    expect((await handshake(gw.ports.proxy_tls!)).cert.fingerprint256).toBe(before);
    writeFileSync(join(dir, 'tls.key.new'), a.key);
    renameSync(join(dir, 'tls.key.new'), join(dir, 'tls.key'));
    await waitFor(async () => ((await handshake(gw.ports.proxy_tls!)).cert.fingerprint256 !== before ? true : undefined), 'the fixed pair served', 10_000);
  });
});

describe('TLS without a configured certificate', () => {
  it('generates a self-signed one with a warning', async () => {
    const gw = await startGateway({});
    try {
      const hs = await handshake(gw.ports.proxy_tls!);
      expect(hs.protocol).toBe('TLSv1.3');
      expect(hs.cert.subject.CN).toBe('tollgate self-signed');
      expect(gw.stderr()).toContain('self-signed certificate');
    } finally {
      await gw.stop();
    }
  });
});

describe('TLS settings on reload', () => {
  it('applies a changed min_version and new certificate paths at once, and refuses a broken pair', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-tlsreload-'));
    const a = await generateSelfSigned();
    const c = await generateSelfSigned();
    for (const [name, m] of [['a', a], ['c', c]] as const) {
      writeFileSync(join(dir, `${name}.crt`), m.cert);
      writeFileSync(join(dir, `${name}.key`), m.key);
    }
    const tlsConfig = (name: string, key = name, min?: string) => ({ gateway: { tls: { cert: join(dir, `${name}.crt`), key: join(dir, `${key}.key`), ...(min ? { min_version: min } : {}) } } });
    const gw = await startGateway(tlsConfig('a'));
    try {
      const port = gw.ports.proxy_tls!;
      const tls12 = () => handshake(port, { maxVersion: 'TLSv1.2' }).then((h) => h.protocol, () => 'refused');
      const reload = async <T>(config: unknown, until: () => Promise<T | undefined>, what: string): Promise<T> => {
        gw.writeConfig(config);
        gw.signal('SIGHUP');
        return waitFor(until, what, 10_000);
      };
      const fingerprint = async () => (await handshake(port)).cert.fingerprint256;
      expect(await tls12()).toBe('refused');
      const fpA = await fingerprint();

      await reload(tlsConfig('a', 'a', 'TLSv1.2'), async () => ((await tls12()) === 'TLSv1.2' ? true : undefined), 'TLS 1.2 accepted');
      await reload(tlsConfig('a', 'a', 'TLSv1.3'), async () => ((await tls12()) === 'refused' ? true : undefined), 'TLS 1.2 refused again');
      const fpC = await reload(tlsConfig('c'), async () => {
        const fp = await fingerprint();
        return fp !== fpA ? fp : undefined;
      }, 'the certificate at the new paths');

      await reload(tlsConfig('a', 'c'), async () => (gw.stderr().includes('the private key does not belong to the certificate') ? true : undefined), 'the refused reload');
      expect(gw.stderr()).toContain('gateway.tls.cert / gateway.tls.key');
      expect(await fingerprint()).toBe(fpC);
    } finally {
      await gw.stop();
    }
  });
});

describe('TLS: a broken certificate at start', () => {
  it('exits 2 with one line naming gateway.tls.cert / key, the files and what is wrong', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-badtls-'));
    const a = await generateSelfSigned();
    const b = await generateSelfSigned();
    writeFileSync(join(dir, 'a.crt'), a.cert);
    writeFileSync(join(dir, 'b.key'), b.key);
    writeFileSync(join(dir, 'garbage.crt'), 'this is not a certificate\n');
    const cases: Array<[string, string, RegExp]> = [
      ['a.crt', 'b.key', /the private key does not belong to the certificate/],
      ['garbage.crt', 'b.key', /not a PEM certificate and key/],
    ];
    for (const [cert, key, why] of cases) {
      const file = join(dir, `${cert}.yaml`);
      writeFileSync(file, `gateway:\n  data_dir: ${join(dir, 'data')}\n  store: sqlite://${join(dir, 'tg.db')}\n  tls:\n    cert: ${join(dir, cert)}\n    key: ${join(dir, key)}\n`);
      const out = await runCli(['start', '--config', file], { env: { TOLLGATE_PROXY_LISTEN: '127.0.0.1:0', TOLLGATE_PROXY_TLS_LISTEN: '127.0.0.1:0', TOLLGATE_ADMIN_LISTEN: 'off', TOLLGATE_STATUS_LISTEN: 'off' }, timeoutMs: 20_000 });
      expect(out.code).toBe(2);
      const line = out.stderr.trim().split('\n').at(-1)!;
      expect(line).toContain(`gateway.tls.cert / gateway.tls.key (${join(dir, cert)}, ${join(dir, key)})`);
      expect(line).toMatch(why);
    }
  });
});

describe('TLS handshakes that never come', () => {
  it('are closed after headers_timeout, and are not counted as requests', async () => {
    const gw = await startGateway({ gateway: { headers_timeout: 1 } });
    try {
      const status = async () => (await (await fetch(`${gw.statusUrl}/status`)).json()) as { server: { total_requests: number; connections_active: number } };
      const before = (await status()).server.total_requests;
      // Raw TCP connections to the TLS port that send nothing (a slowloris on the handshake).
      const sockets = await Promise.all(
        Array.from({ length: 20 }, () => new Promise<Socket>((resolve, reject) => {
          const s = netConnect(gw.ports.proxy_tls!, '127.0.0.1', () => resolve(s));
          s.on('error', reject);
        })),
      );
      const closed = await Promise.all(sockets.map((s) => new Promise<boolean>((resolve) => {
        s.once('close', () => resolve(true));
        setTimeout(() => resolve(false), 8000);
      })));
      expect(closed.filter(Boolean)).toHaveLength(20);
      const after = await status();
      expect(after.server.total_requests).toBe(before); // connections, not requests
      expect(gw.stderr()).not.toContain('request refused by the HTTP parser');
    } finally {
      await gw.stop();
    }
  });
});
