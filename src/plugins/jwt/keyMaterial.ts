import { createPublicKey } from 'node:crypto';

/** Which public key type (and EC curve) each asymmetric JWS algorithm needs. */
const NEEDS: Record<string, { type: string[]; curve?: string }> = {
  RS256: { type: ['rsa'] },
  RS384: { type: ['rsa'] },
  RS512: { type: ['rsa'] },
  PS256: { type: ['rsa', 'rsa-pss'] },
  PS384: { type: ['rsa', 'rsa-pss'] },
  PS512: { type: ['rsa', 'rsa-pss'] },
  ES256: { type: ['ec'], curve: 'prime256v1' },
  ES384: { type: ['ec'], curve: 'secp384r1' },
  ES512: { type: ['ec'], curve: 'secp521r1' },
  EdDSA: { type: ['ed25519', 'ed448'] },
};

/**
 * Checks a credential's verification material for its algorithm, as the Admin API accepts it:
 * HS* need a `secret` and no key; the others a PEM public key (or certificate) of the right
 * type. Returns `{ field: problem }` (empty when fine).
 */
export function checkCredentialKey(algorithm: string, rsaPublicKey: string | undefined, secret: string | undefined): Record<string, string> {
  if (algorithm.startsWith('HS')) {
    return rsaPublicKey !== undefined ? { rsa_public_key: `not used with ${algorithm}; set secret (or leave it out to have one generated)` } : {};
  }
  if (secret !== undefined) return { secret: `not used with ${algorithm}; set rsa_public_key` };
  if (rsaPublicKey === undefined) return { rsa_public_key: `required with ${algorithm} (a PEM public key)` };
  if (rsaPublicKey.includes('PRIVATE KEY')) return { rsa_public_key: 'this is a private key: give only its public half (openssl rsa -pubout)' };
  const need = NEEDS[algorithm];
  try {
    const key = createPublicKey(rsaPublicKey);
    if (need && !need.type.includes(key.asymmetricKeyType ?? '')) return { rsa_public_key: `a ${key.asymmetricKeyType} key cannot verify ${algorithm}` };
    if (need?.curve && key.asymmetricKeyDetails?.namedCurve !== need.curve) return { rsa_public_key: `${algorithm} needs an EC key on ${need.curve}` };
    if (key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) return { rsa_public_key: 'RSA keys must have at least 2048 bits' };
  } catch {
    return { rsa_public_key: 'not a PEM public key or certificate' };
  }
  return {};
}
