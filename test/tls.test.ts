import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type PeerCertificate } from 'node:tls';
import { connect as netConnect, type Socket } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startGateway, type GatewayProcess } from './helpers/gateway.js';
import { waitFor } from './helpers/ports.js';
import { generateSelfSigned } from '../src/server/tls.js';

function handshake(port: number, opts: { maxVersion?: 'TLSv1.2' | 'TLSv1.3'; ciphers?: string } = {}): Promise<{ protocol: string | null; cert: PeerCertificate }> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', rejectUnauthorized: false, servername: 'localhost', ...opts }, () => {
      const out = { protocol: s.getProtocol(), cert: s.getPeerCertificate() };
      s.end();
      resolve(out);
    });
    s.on('error', reject);
  });
}

/** Like a Kubernetes Secret update: the new files land atomically (key first, then cert). */
function install(dir: string, pair: { cert: string; key: string }): void {
  writeFileSync(join(dir, 'tls.key.new'), pair.key);
  writeFileSync(join(dir, 'tls.crt.new'), pair.cert);
  renameSync(join(dir, 'tls.key.new'), join(dir, 'tls.key'));
  renameSync(join(dir, 'tls.crt.new'), join(dir, 'tls.crt'));
}

/** A gateway serving a fresh self-signed pair from `dir/tls.{crt,key}` (watched for renewals). */
async function tlsGateway(prefix: string): Promise<{ gw: GatewayProcess; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  install(dir, await generateSelfSigned());
  return { gw: await startGateway({ gateway: { tls: { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key') } } }), dir };
}

describe('TLS', () => {
  let gw: GatewayProcess;
  let dir: string;
  beforeAll(async () => {
    ({ gw, dir } = await tlsGateway('tollgate-tls-'));
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
    install(dir, await generateSelfSigned());
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
    install(dir, { cert: a.cert, key: b.key }); // a key that is not the certificate's
    await waitFor(() => warnings() > seen || undefined, 'the warning', 10_000);
    await new Promise((r) => setTimeout(r, 1500)); // several polls (200 ms here)
    expect(warnings() - seen).toBe(1);
    expect((await handshake(gw.ports.proxy_tls!)).cert.fingerprint256).toBe(before);
    writeFileSync(join(dir, 'tls.key.new'), a.key);
    renameSync(join(dir, 'tls.key.new'), join(dir, 'tls.key'));
    await waitFor(async () => ((await handshake(gw.ports.proxy_tls!)).cert.fingerprint256 !== before ? true : undefined), 'the fixed pair served', 10_000);
  });
});

describe('TLS renewals that cannot be served yet', () => {
  let gw: GatewayProcess;
  let dir: string;
  const fingerprint = async () => (await handshake(gw.ports.proxy_tls!)).cert.fingerprint256;
  const count = (text: string) => gw.stderr().split(text).length - 1;
  beforeAll(async () => {
    ({ gw, dir } = await tlsGateway('tollgate-tlsdates-'));
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('an expired replacement is refused (said once); one not valid yet is held back, then served once it is', async () => {
    const before = await fingerprint();
    install(dir, await generateSelfSigned({ from: new Date('2020-01-01T00:00:00Z'), to: new Date('2020-06-01T00:00:00Z') }));
    const expired = 'the certificate expired on 2020-06-01T00:00:00.000Z';
    await waitFor(() => count(expired) > 0 || undefined, 'the warning about the expired certificate', 10_000);
    await new Promise((r) => setTimeout(r, 1500)); // several polls (200 ms here)
    expect(count(expired)).toBe(1);
    expect(await fingerprint()).toBe(before);

    const future = await generateSelfSigned({ from: new Date(Date.now() + 3000), to: new Date(Date.now() + 86_400_000) });
    install(dir, future);
    await waitFor(() => count('new TLS certificate is not valid yet') > 0 || undefined, 'the warning about the early certificate', 10_000);
    expect(await fingerprint()).toBe(before);
    const served = await waitFor(async () => ((await fingerprint()) !== before ? fingerprint() : undefined), 'the certificate once valid', 15_000);
    expect(served).toBe(new X509Certificate(future.cert).fingerprint256);
    expect(count('new TLS certificate is not valid yet')).toBe(1);
  });

  it('renewed files that cannot be read are warned about (once, when it lasts), and the current certificate keeps serving', async () => {
    const before = await fingerprint();
    rmSync(join(dir, 'tls.key'));
    symlinkSync(join(dir, '..data', 'tls.key'), join(dir, 'tls.key')); // a Secret swapped to one without the key
    const warning = 'cannot read the TLS certificate/key files';
    await waitFor(() => count(warning) > 0 || undefined, 'the warning', 10_000);
    await new Promise((r) => setTimeout(r, 1500));
    expect(count(warning)).toBe(1);
    expect(gw.stderr()).toContain(`${join(dir, 'tls.key')}: ENOENT`);
    expect(await fingerprint()).toBe(before);
    rmSync(join(dir, 'tls.key'));
    const next = await generateSelfSigned();
    install(dir, next);
    await waitFor(async () => ((await fingerprint()) === new X509Certificate(next.cert).fingerprint256 ? true : undefined), 'the readable pair served', 10_000);
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
      // With TLS 1.2 on and no cipher list: forward-secret AEAD suites only (Mozilla's intermediate), no CBC or SHA-1 MACs.
      const cbc = 'ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:AES128-SHA:AES256-SHA';
      await expect(handshake(port, { maxVersion: 'TLSv1.2', ciphers: cbc })).rejects.toThrow(/handshake|alert|cipher/i);
      expect((await handshake(port, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256' })).protocol).toBe('TLSv1.2');
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
    cases.push(['a.crt', 'a.crt', /the key file holds no PEM private key/]);
    for (const [cert, key, why] of cases) {
      const file = join(dir, `${cert}-${key}.yaml`);
      writeFileSync(file, `gateway:\n  data_dir: ${join(dir, 'data')}\n  store: sqlite://${join(dir, 'tg.db')}\n  tls:\n    cert: ${join(dir, cert)}\n    key: ${join(dir, key)}\n`);
      const out = await runCli(['start', '--config', file], { env: { TOLLGATE_PROXY_LISTEN: '127.0.0.1:0', TOLLGATE_PROXY_TLS_LISTEN: '127.0.0.1:0', TOLLGATE_ADMIN_LISTEN: 'off', TOLLGATE_STATUS_LISTEN: 'off' }, timeoutMs: 20_000 });
      expect(out.code).toBe(2);
      const line = out.stderr.trim().split('\n').at(-1)!;
      expect(line).toContain(`gateway.tls.cert / gateway.tls.key (${join(dir, cert)}, ${join(dir, key)})`);
      expect(line).toMatch(why);
    }
  });
});

describe('TLS settings that do not load at start', () => {
  const env = { TOLLGATE_PROXY_LISTEN: '127.0.0.1:0', TOLLGATE_PROXY_TLS_LISTEN: '127.0.0.1:0', TOLLGATE_ADMIN_LISTEN: 'off', TOLLGATE_STATUS_LISTEN: 'off' };
  let dir: string;
  const configFile = (name: string, tls: string) => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, `gateway:\n  data_dir: ${join(dir, 'data')}\n  store: sqlite://${join(dir, `${name}.db`)}\n  tls:\n${tls}`);
    return file;
  };
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-tlsstart-'));
    const a = await generateSelfSigned();
    writeFileSync(join(dir, 'a.crt'), a.cert);
    writeFileSync(join(dir, 'a.key'), a.key);
    const old = await generateSelfSigned({ from: new Date('2020-01-01T00:00:00Z'), to: new Date('2020-06-01T00:00:00Z') });
    writeFileSync(join(dir, 'old.crt'), old.cert);
    writeFileSync(join(dir, 'old.key'), old.key);
    mkdirSync(join(dir, 'adir'));
  });

  it('a cipher list OpenSSL matches nothing in fails config validate and start alike: exit 2 naming gateway.tls.ciphers', async () => {
    const file = configFile('ciphers', `    cert: ${join(dir, 'a.crt')}\n    key: ${join(dir, 'a.key')}\n    ciphers: NOPE-NOT-A-CIPHER\n`);
    for (const args of [['config', 'validate', file], ['start', '--config', file]]) {
      const out = await runCli(args, { env, timeoutMs: 20_000 });
      expect(out.code, args[0]).toBe(2);
      expect(out.stderr, args[0]).toContain('gateway.tls.ciphers: OpenSSL matches no cipher in this list');
    }
  });

  it('a key path that cannot be read is named as the key', async () => {
    const out = await runCli(['start', '--config', configFile('keydir', `    cert: ${join(dir, 'a.crt')}\n    key: ${join(dir, 'adir')}\n`)], { env, timeoutMs: 20_000 });
    expect(out.code).toBe(2);
    expect(out.stderr.trim().split('\n').at(-1)).toBe(`tollgate: gateway.tls.key: cannot read ${join(dir, 'adir')}: EISDIR; check the mounted certificate files`);
  });

  it('an expired certificate starts, with a warning that clients will refuse it', async () => {
    const gw = await startGateway({ gateway: { tls: { cert: join(dir, 'old.crt'), key: join(dir, 'old.key') } } });
    try {
      expect(gw.stderr()).toContain('gateway.tls.cert: the certificate expired on 2020-06-01T00:00:00.000Z; clients will refuse it');
    } finally {
      await gw.stop();
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
