import { X509Certificate, createHash, webcrypto } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import type { Logger } from 'pino';
import * as x509 from '@peculiar/x509';
import type { GatewaySettings } from '../config/schema.js';
import { UserError } from '../core/errors.js';

/**
 * TLS material for the HTTPS proxy listener (SPEC §11): the configured PEM files (e.g. the
 * cert-manager Secret mounted into the pod), or a self-signed certificate generated into the
 * data dir when none is configured (demo only, with a warning). Files are polled, so a
 * renewal (a Kubernetes Secret swaps a symlink, which file watchers miss) reaches new
 * handshakes within `pollMs` without a restart.
 */
export interface TlsMaterial {
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
  selfSigned: boolean;
}

/**
 * With TLS 1.2 enabled and no `ciphers`: Mozilla's "intermediate" suites (forward secrecy and
 * AEAD only; no DHE, which needs parameters of its own), after the TLS 1.3 ones. Node's default
 * (OpenSSL's HIGH) also offers CBC with SHA-1 MACs, CCM8 and ARIA (testssl: LUCKY13).
 */
export const TLS12_DEFAULT_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export function secureOptions(m: Pick<TlsMaterial, 'cert' | 'key'>, tls: GatewaySettings['tls']): SecureContextOptions {
  const ciphers = tls.ciphers ?? (tls.min_version === 'TLSv1.2' ? TLS12_DEFAULT_CIPHERS : undefined);
  return {
    cert: m.cert,
    key: m.key,
    minVersion: tls.min_version,
    ...(ciphers !== undefined ? { ciphers } : {}),
    honorCipherOrder: true,
  };
}

export async function loadTlsMaterial(gateway: GatewaySettings, dataDir: string, logger: Logger): Promise<TlsMaterial> {
  const { cert, key } = gateway.tls;
  if (cert !== undefined && key !== undefined) {
    const material = { cert: await readPem(cert, 'cert'), key: await readPem(key, 'key'), certFile: cert, keyFile: key, selfSigned: false };
    const problem = tlsMaterialProblem(material, gateway.tls);
    if (problem !== null) throw new UserError(`gateway.tls.cert / gateway.tls.key (${cert}, ${key}): ${problem}; mount a PEM certificate (chain) and its private key`);
    const dates = validityProblem(material.cert);
    if (dates !== null) logger.warn({ cert }, `gateway.tls.cert: ${dates.message}; clients will refuse it until a current certificate is mounted`);
    return material;
  }
  const dir = join(dataDir, 'tls');
  const certFile = join(dir, 'selfsigned.crt');
  const keyFile = join(dir, 'selfsigned.key');
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const generated = await generateSelfSigned();
    await writeFile(keyFile, generated.key, { mode: 0o600 });
    await writeFile(certFile, generated.cert);
  }
  logger.warn({ cert: certFile }, 'gateway.tls.cert/key not set: serving HTTPS with a self-signed certificate (demo only; mount a real certificate in production)');
  return { cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8'), certFile, keyFile, selfSigned: true };
}

async function readPem(file: string, field: 'cert' | 'key'): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new UserError(`gateway.tls.${field}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; check the mounted certificate files`);
  }
}

/**
 * Why OpenSSL refuses a certificate and key pair (under `tls`'s options when given), in words
 * (null when it accepts them): what start reports instead of `error:0480006C:PEM routines::no
 * start line`.
 */
export function tlsMaterialProblem(m: Pick<TlsMaterial, 'cert' | 'key'>, tls?: GatewaySettings['tls']): string | null {
  if (!m.cert.includes('-----BEGIN CERTIFICATE-----')) return 'not a PEM certificate and key (the certificate file holds no PEM certificate)';
  if (!/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(m.key)) return 'not a PEM certificate and key (the key file holds no PEM private key)';
  try {
    createSecureContext(tls === undefined ? { cert: m.cert, key: m.key } : secureOptions(m, tls));
    return null;
  } catch (err) {
    const reason = String((err as { reason?: unknown }).reason ?? (err as Error).message);
    if (/key values mismatch/i.test(reason)) return 'the private key does not belong to the certificate';
    if (/no start line|bad base64|PEM/i.test(reason)) return `not a PEM certificate and key (${reason})`;
    return reason;
  }
}

/**
 * Why the (leaf) certificate is not valid now, in words; `expired` when it never will be. Null
 * when it is valid, or when it does not parse (tlsMaterialProblem's business).
 */
export function validityProblem(certPem: string, now = Date.now()): { expired: boolean; message: string } | null {
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(certPem);
  } catch {
    return null;
  }
  const from = Date.parse(leaf.validFrom);
  const to = Date.parse(leaf.validTo);
  if (now > to) return { expired: true, message: `the certificate expired on ${new Date(to).toISOString()}` };
  if (now < from) return { expired: false, message: `the certificate is not valid before ${new Date(from).toISOString()}` };
  return null;
}

/** A P-256 self-signed certificate for localhost and this host name, valid one year (or `validity`). */
export async function generateSelfSigned(validity?: { from: Date; to: Date }): Promise<{ cert: string; key: string }> {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: createHash('sha256').update(String(now)).digest('hex').slice(0, 16),
    name: 'CN=tollgate self-signed',
    notBefore: validity?.from ?? new Date(now - 60_000),
    notAfter: validity?.to ?? new Date(now + 365 * 86_400_000),
    signingAlgorithm: alg,
    keys: keys as unknown as x509.X509CertificateCreateSelfSignedParams['keys'],
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: 'dns', value: 'localhost' },
        { type: 'dns', value: hostname() },
        { type: 'ip', value: '127.0.0.1' },
        { type: 'ip', value: '::1' },
      ]),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const key = `-----BEGIN PRIVATE KEY-----\n${Buffer.from(pkcs8).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
  return { cert: cert.toString('pem'), key };
}

/**
 * Polls the certificate files and calls `onChange` with new material when their content
 * changed and the new pair loads. A half-written renewal (cert and key not matching yet) is
 * skipped and retried at the next poll; the old certificate keeps serving. So is a replacement
 * that is not valid yet (served once it is), while an expired one is refused until the files
 * change again. Files that cannot be read are skipped in silence once (a rotation in progress)
 * and warned about when the same error is still there at the next poll.
 */
export class TlsWatcher {
  private timer: NodeJS.Timeout | null = null;
  private fingerprint: string;
  /** The last pair that did not load (not logged again until the files change). */
  private refused: string | null = null;
  /** The last pair warned about for its dates while it waits to become valid. */
  private early: string | null = null;
  /** The last read failure, and whether it was logged. */
  private unreadable: { what: string; logged: boolean } | null = null;

  constructor(
    private material: TlsMaterial,
    private readonly validate: (m: TlsMaterial) => void,
    private readonly onChange: (m: TlsMaterial) => void,
    private readonly logger: Logger,
    private readonly pollMs = 2000,
  ) {
    this.fingerprint = TlsWatcher.hash(material.cert, material.key);
  }

  private static hash(cert: string, key: string): string {
    return createHash('sha256').update(cert).update('\0').update(key).digest('hex');
  }

  /** The certificate and key being served. */
  get current(): TlsMaterial {
    return this.material;
  }

  start(): void {
    if (this.material.selfSigned || this.timer) return;
    this.timer = setInterval(() => void this.poll(), this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async poll(): Promise<void> {
    let cert: string;
    let key: string;
    try {
      [cert, key] = await Promise.all([readFile(this.material.certFile, 'utf8'), readFile(this.material.keyFile, 'utf8')]);
    } catch (err) {
      this.noteUnreadable(err as NodeJS.ErrnoException);
      return;
    }
    this.unreadable = null;
    const fp = TlsWatcher.hash(cert, key);
    if (fp === this.fingerprint || fp === this.refused) return;
    const next = { ...this.material, cert, key };
    try {
      this.validate(next);
    } catch (err) {
      this.refuse(fp, (err as Error).message);
      return;
    }
    const dates = validityProblem(cert);
    if (dates !== null && validityProblem(this.material.cert) === null) {
      // Clients would refuse it while the current one still works.
      if (dates.expired) this.refuse(fp, dates.message);
      else if (this.early !== fp) {
        this.early = fp;
        this.logger.warn({ cert: this.material.certFile, err: dates.message }, 'new TLS certificate is not valid yet; keeping the current one until it is');
      }
      return;
    }
    this.refused = null;
    this.early = null;
    this.fingerprint = fp;
    this.material = next;
    this.onChange(next);
    if (dates !== null) this.logger.warn({ cert: this.material.certFile, err: dates.message }, 'TLS certificate reloaded, but it is not valid now (nor was the one it replaced)');
    else this.logger.info({ cert: this.material.certFile }, 'TLS certificate reloaded');
  }

  /** Once per broken pair, not once per poll: it is checked again when the files change. */
  private refuse(fp: string, why: string): void {
    this.refused = fp;
    this.logger.warn({ cert: this.material.certFile, err: why }, 'new TLS certificate/key does not load yet; keeping the current one');
  }

  private noteUnreadable(err: NodeJS.ErrnoException): void {
    const what = `${err.path ?? `${this.material.certFile}, ${this.material.keyFile}`}: ${err.code ?? err.message}`;
    if (this.unreadable?.what !== what) {
      this.unreadable = { what, logged: false }; // files briefly missing mid-rotation: next poll
      return;
    }
    if (this.unreadable.logged) return;
    this.unreadable.logged = true;
    this.logger.warn({ err: what }, 'cannot read the TLS certificate/key files; keeping the current certificate (check the mounted files and their permissions)');
  }
}
