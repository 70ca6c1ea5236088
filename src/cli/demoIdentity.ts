import { createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeKeyPair } from './keys.js';
import { mintToken } from './token.js';

/** The demo consumer (SPEC §1): `demo`, whose RS256 key pair lives in the demo data dir. */
export const DEMO_CONSUMER = 'demo';
export const DEMO_KEY = 'demo-key';
export const DEMO_USER = 'demo-user';
export const DEMO_AUDIENCE = 'ai-platform';
export const DEMO_SCOPES = ['api.read', 'api.write'];

export interface DemoIdentity {
  privateKeyFile: string;
  publicPem: string;
  /** A fresh token for the printed curl (valid 24 h). */
  token: string;
}

/**
 * Generates the demo key pair into `<dataDir>/jwt` on the first run and reuses it afterwards,
 * then mints a token like the seed's snippet for the printed curl.
 */
export async function demoIdentity(dataDir: string): Promise<DemoIdentity> {
  const dir = join(dataDir, 'jwt');
  const privateKeyFile = join(dir, 'private.pem');
  if (!existsSync(privateKeyFile)) await writeKeyPair(dir, 2048);
  const key = createPrivateKey(await readFile(privateKeyFile, 'utf8'));
  const publicPem = createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString();
  const token = await mintToken({ key, iss: DEMO_KEY, sub: DEMO_USER, aud: DEMO_AUDIENCE, scopes: DEMO_SCOPES, ttl: 24 * 3600 });
  return { privateKeyFile, publicPem, token };
}

/** The config-file entries that make the demo consumer. */
export function demoConsumers(id: DemoIdentity): Record<string, unknown>[] {
  return [{ username: DEMO_CONSUMER, jwt_secrets: [{ key: DEMO_KEY, algorithm: 'RS256', rsa_public_key: id.publicPem }] }];
}

/** How to get another token once the printed one expires. */
export function demoMintHint(id: DemoIdentity): string {
  return `npx tollgate token mint --key ${id.privateKeyFile} --iss ${DEMO_KEY} --sub ${DEMO_USER} --aud ${DEMO_AUDIENCE} --scopes ${DEMO_SCOPES.join(',')}`;
}
