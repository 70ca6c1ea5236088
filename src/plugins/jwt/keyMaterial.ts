import { createPublicKey, type KeyObject } from 'node:crypto';

/**
 * Which public key type (and EC curve) each asymmetric JWS algorithm needs — the types the
 * verifier (jose) accepts: no Ed448, and no RSASSA-PSS-only (`rsa-pss`) SPKI keys.
 */
const NEEDS: Record<string, { type: string[]; curve?: string }> = {
  RS256: { type: ['rsa'] },
  RS384: { type: ['rsa'] },
  RS512: { type: ['rsa'] },
  PS256: { type: ['rsa'] },
  PS384: { type: ['rsa'] },
  PS512: { type: ['rsa'] },
  ES256: { type: ['ec'], curve: 'prime256v1' },
  ES384: { type: ['ec'], curve: 'secp384r1' },
  ES512: { type: ['ec'], curve: 'secp521r1' },
  EdDSA: { type: ['ed25519'] },
};

/** Why `key` cannot verify `algorithm` (null when it can). */
export function keyProblem(algorithm: string, key: KeyObject): string | null {
  const need = NEEDS[algorithm];
  if (need === undefined) return null;
  const type = key.asymmetricKeyType ?? '';
  if (!need.type.includes(type)) {
    if (type === 'ed448') return `${algorithm} takes an Ed25519 key (Ed448 is not supported)`;
    if (type === 'rsa-pss') return 'an RSASSA-PSS-only (rsa-pss) key is not supported: give the plain RSA public key (openssl rsa -pubout)';
    return `a ${type} key cannot verify ${algorithm}`;
  }
  if (need.curve !== undefined && key.asymmetricKeyDetails?.namedCurve !== need.curve) return `${algorithm} needs an EC key on ${need.curve}`;
  if (type === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) return 'RSA keys must have at least 2048 bits';
  return null;
}

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
  let key: KeyObject;
  try {
    key = createPublicKey(rsaPublicKey);
  } catch {
    return { rsa_public_key: 'not a PEM public key or certificate' };
  }
  const problem = keyProblem(algorithm, key);
  return problem === null ? {} : { rsa_public_key: problem };
}
