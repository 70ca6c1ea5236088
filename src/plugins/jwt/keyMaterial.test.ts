import { describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { checkCredentialKey } from './keyMaterial.js';
import { keyOf, type ResolvedCredential } from './credentials.js';

const pem = (type: 'ed25519' | 'ed448' | 'rsa-pss' | 'rsa') =>
  generateKeyPairSync(type as 'rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();

const credential = (algorithm: string, rsaPublicKey: string): ResolvedCredential => ({
  secret: { id: 'c1', consumer_id: 'k1', key: 'k', algorithm, rsa_public_key: rsaPublicKey, secret: null } as ResolvedCredential['secret'],
  consumer: null,
  keys: {},
});

describe('jwt credential keys', () => {
  it('accepts the key types the verifier (jose) can use', () => {
    expect(checkCredentialKey('EdDSA', pem('ed25519'), undefined)).toEqual({});
    expect(checkCredentialKey('PS256', pem('rsa'), undefined)).toEqual({});
  });

  it('refuses keys the verifier cannot use, saying what to give instead', () => {
    expect(checkCredentialKey('EdDSA', pem('ed448'), undefined)).toEqual({ rsa_public_key: 'EdDSA takes an Ed25519 key (Ed448 is not supported)' });
    expect(checkCredentialKey('PS256', pem('rsa-pss'), undefined)).toEqual({
      rsa_public_key: 'an RSASSA-PSS-only (rsa-pss) key is not supported: give the plain RSA public key (openssl rsa -pubout)',
    });
  });

  it('a stored credential with such a key has no usable key (refused as Invalid key/secret, not as a bad signature)', () => {
    expect(keyOf(credential('EdDSA', pem('ed448')), false)).toBeNull();
    expect(keyOf(credential('PS256', pem('rsa-pss')), false)).toBeNull();
    expect(keyOf(credential('EdDSA', pem('ed25519')), false)?.asymmetricKeyType).toBe('ed25519');
  });
});
