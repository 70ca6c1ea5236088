import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { exportJWK, type JWK } from 'jose';
import type { GatewaySettings } from '../config/schema.js';
import { UserError } from '../core/errors.js';

/**
 * `gateway.signing_keys`: the first entry signs the tokens tollgate issues, every entry
 * verifies, and the JWKS publishes every public half, so a key can be rotated in (put first)
 * and the old one kept until its last token expired, without invalidating live tokens.
 * Keys are parsed once into KeyObjects.
 */

type KeyEntry = GatewaySettings['signing_keys'][number];

export interface SigningKey {
  kid: string;
  alg: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** Why a key entry is unusable, or null (the config check and the loader share it). */
function loadEntry(entry: KeyEntry): SigningKey | string {
  let pem: string;
  if (entry.private_key !== undefined) pem = entry.private_key;
  else {
    try {
      pem = readFileSync(entry.private_key_file!, 'utf8');
    } catch (err) {
      return `cannot read private_key_file ${entry.private_key_file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
    }
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch {
    return 'not a PEM private key (generate one with: openssl genrsa -out private.pem 4096)';
  }
  const type = privateKey.asymmetricKeyType;
  const alg = entry.algorithm;
  // jose signs with neither RSASSA-PSS-only keys nor Ed448: refuse them here, not at the first token.
  if (type === 'rsa-pss') return 'an RSASSA-PSS-only (rsa-pss) key cannot sign here: give a plain RSA key (openssl genrsa -out private.pem 4096)';
  const fits =
    ((alg.startsWith('RS') || alg.startsWith('PS')) && type === 'rsa') ||
    (alg === 'ES256' && type === 'ec' && privateKey.asymmetricKeyDetails?.namedCurve === 'prime256v1') ||
    (alg === 'EdDSA' && type === 'ed25519');
  if (!fits) return `a ${type ?? 'unknown'} key cannot sign ${alg}`;
  if (type === 'rsa' && (privateKey.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
    return 'an RSA key needs at least 2048 bits';
  }
  return { kid: entry.kid, alg, privateKey, publicKey: createPublicKey(privateKey) };
}

/** Problems with `gateway.signing_keys`, as `[path, message]` pairs (for the config check). */
export function signingKeyProblems(keys: readonly KeyEntry[]): Array<[(string | number)[], string]> {
  const problems: Array<[(string | number)[], string]> = [];
  const kids = new Set<string>();
  keys.forEach((entry, i) => {
    if (kids.has(entry.kid)) problems.push([['gateway', 'signing_keys', i, 'kid'], `duplicate kid '${entry.kid}'`]);
    kids.add(entry.kid);
    const loaded = loadEntry(entry);
    if (typeof loaded === 'string') problems.push([['gateway', 'signing_keys', i, entry.private_key !== undefined ? 'private_key' : 'private_key_file'], loaded]);
  });
  return problems;
}

export class SigningKeys {
  private readonly byKid: Map<string, SigningKey>;
  private jwksDoc: Promise<{ keys: JWK[] }> | null = null;

  private constructor(
    readonly signer: SigningKey,
    readonly all: readonly SigningKey[],
  ) {
    this.byKid = new Map(all.map((k) => [k.kid, k]));
  }

  /** Loads every key (throws UserError naming the bad entry); null when none is configured. */
  static load(gateway: GatewaySettings): SigningKeys | null {
    if (gateway.signing_keys.length === 0) return null;
    const keys = gateway.signing_keys.map((entry, i) => {
      const loaded = loadEntry(entry);
      if (typeof loaded === 'string') throw new UserError(`gateway.signing_keys[${i}]: ${loaded}`);
      return loaded;
    });
    return new SigningKeys(keys[0]!, keys);
  }

  get(kid: string): SigningKey | undefined {
    return this.byKid.get(kid);
  }

  /** The JWKS document: every key's public half (`/.well-known/jwks.json`). */
  jwks(): Promise<{ keys: JWK[] }> {
    this.jwksDoc ??= Promise.all(this.all.map(async (k) => ({ ...(await exportJWK(k.publicKey)), kid: k.kid, alg: k.alg, use: 'sig' }))).then((keys) => ({ keys }));
    return this.jwksDoc;
  }
}
