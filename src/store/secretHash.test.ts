import { describe, expect, it } from 'vitest';
import { hashSecret, isSecretHash, verifySecret } from './secretHash.js';

describe('secretHash', () => {
  it('hashes as scrypt$16384$8$1$<salt>$<hash> with a fresh 16-byte salt', async () => {
    const a = await hashSecret('s3cret');
    const b = await hashSecret('s3cret');
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('s3cret');
    expect(isSecretHash(a)).toBe(true);
  });

  it('verifies the right secret and refuses a wrong one', async () => {
    const stored = await hashSecret('s3cret');
    expect(await verifySecret('s3cret', stored)).toBe(true);
    expect(await verifySecret('s3cret ', stored)).toBe(false);
    expect(await verifySecret('', stored)).toBe(false);
    expect(await verifySecret('S3cret', stored)).toBe(false);
  });

  it('handles unicode and empty secrets', async () => {
    expect(await verifySecret('pässwörd-🔑', await hashSecret('pässwörd-🔑'))).toBe(true);
    expect(await verifySecret('', await hashSecret(''))).toBe(true);
  });

  it('returns false for malformed stored values, never throws', async () => {
    const good = await hashSecret('x');
    const [, n, r, p, salt, hash] = good.split('$');
    const malformed = [
      '',
      'x',
      's3cret',
      `bcrypt$${n}$${r}$${p}$${salt}$${hash}`,
      `scrypt$${n}$${r}$${p}$${salt}`,
      `scrypt$${n}$${r}$${p}$${salt}$${hash}$extra`,
      `scrypt$1000$${r}$${p}$${salt}$${hash}`, // N not a power of two
      `scrypt$${1 << 24}$${r}$${p}$${salt}$${hash}`, // N beyond the bound
      `scrypt$${n}$0$${p}$${salt}$${hash}`,
      `scrypt$${n}$${r}$99$${salt}$${hash}`,
      `scrypt$${n}$${r}$${p}$${salt}$not+base64/url=`,
      `scrypt$${n}$${r}$${p}$${salt}$${hash.slice(0, 10)}`,
      `scrypt$${n}$${r}$${p}$$${hash}`,
      `scrypt$-1$${r}$${p}$${salt}$${hash}`,
    ];
    for (const stored of malformed) {
      expect(isSecretHash(stored)).toBe(false);
      expect(await verifySecret('x', stored)).toBe(false);
    }
    expect(await verifySecret('x', null as unknown as string)).toBe(false);
  });

  it('verifies hashes made with other valid parameters', async () => {
    const stored = await hashSecret('x');
    // A hash with a different (valid) cost verifies against its own parameters, not the defaults.
    const [, , , , salt] = stored.split('$');
    const { scryptSync } = await import('node:crypto');
    const other = scryptSync('x', Buffer.from(salt, 'base64url'), 32, { N: 1024, r: 4, p: 2 }).toString('base64url');
    expect(await verifySecret('x', `scrypt$1024$4$2$${salt}$${other}`)).toBe(true);
  });
});
