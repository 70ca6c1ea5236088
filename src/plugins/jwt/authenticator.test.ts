import { describe, expect, it } from 'vitest';
import { emptyIdentity } from '../../core/context.js';
import { JwtAuthenticator } from './authenticator.js';
import type { Acceptance, TokenAuthority } from './authority.js';
import { invalidToken, type ParsedJwt } from './parse.js';

/** An authority that counts signature verifications and can be told a credential went away. */
function countingAuthority(ttlMs = 60_000) {
  const state = { verifications: 0, valid: true };
  const authority: TokenAuthority = {
    verify(jwt: ParsedJwt, nowMs: number): Acceptance {
      state.verifications++;
      if (!state.valid) throw invalidToken('No credentials found for given \'iss\'');
      const identity = emptyIdentity('jwt');
      identity.userId = String(jwt.payload.sub);
      identity.roles = ['r'];
      return { identity, expiresAt: nowMs + ttlMs, authority, proof: null };
    },
    stillValid: () => state.valid,
  };
  return { authority, state };
}

const token = (sub: string) => `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub })).toString('base64url')}.c2ln`;

describe('JwtAuthenticator (the verified-token cache)', () => {
  it('verifies a token once; repeats are answered from the cache, synchronously', async () => {
    const { authority, state } = countingAuthority();
    const auth = new JwtAuthenticator(() => authority);
    expect((await auth.authenticate(token('a'))).userId).toBe('a');
    const again = auth.authenticate(token('a'));
    expect(again).not.toBeInstanceOf(Promise);
    expect((again as ReturnType<typeof emptyIdentity>).userId).toBe('a');
    expect(state.verifications).toBe(1);
    await auth.authenticate(token('b'));
    expect(state.verifications).toBe(2);
  });

  it('a connection that changes its token gets the new token\'s identity, never the last one\'s', async () => {
    const { authority, state } = countingAuthority();
    const auth = new JwtAuthenticator(() => authority);
    const connection = {};
    expect((await auth.authenticate(token('a'), connection)).userId).toBe('a');
    expect((await auth.authenticate(token('a'), connection)).userId).toBe('a');
    expect(state.verifications).toBe(1);
    expect((await auth.authenticate(token('b'), connection)).userId).toBe('b');
    expect((await auth.authenticate(token('a'), connection)).userId).toBe('a'); // from the shared cache
    expect(state.verifications).toBe(2);
    // Another connection, and no connection at all, share the same cache entries.
    expect((await auth.authenticate(token('b'), {})).userId).toBe('b');
    expect((await auth.authenticate(token('a'))).userId).toBe('a');
    expect(state.verifications).toBe(2);
    // A token that differs in its last character is a different token.
    const forged = `${token('a').slice(0, -1)}x`;
    await auth.authenticate(forged, connection);
    expect(state.verifications).toBe(3);
  });

  it('hands out copies, so a request cannot alter the cached identity', async () => {
    const { authority } = countingAuthority();
    const auth = new JwtAuthenticator(() => authority);
    const first = await auth.authenticate(token('a'));
    first.roles.push('admin');
    first.userId = 'mallory';
    const second = await auth.authenticate(token('a'));
    expect(second.userId).toBe('a');
    expect(second.roles).toEqual(['r']);
  });

  it('re-verifies when the authority says the acceptance no longer holds, or after clear()', async () => {
    const { authority, state } = countingAuthority();
    const auth = new JwtAuthenticator(() => authority);
    await auth.authenticate(token('a'));
    auth.clear();
    await auth.authenticate(token('a'));
    expect(state.verifications).toBe(2);
    state.valid = false; // credential deleted on another replica
    await expect(async () => auth.authenticate(token('a'))).rejects.toThrow('No credentials found');
    expect(state.verifications).toBe(3);
  });

  it('never serves an entry past its deadline, and bounds its size', async () => {
    const { authority, state } = countingAuthority(-1);
    const auth = new JwtAuthenticator(() => authority, 2);
    await auth.authenticate(token('a'));
    await auth.authenticate(token('a'));
    expect(state.verifications).toBe(2);
    const bounded = countingAuthority();
    const small = new JwtAuthenticator(() => bounded.authority, 2);
    for (const s of ['a', 'b', 'c', 'a']) await small.authenticate(token(s));
    expect(bounded.state.verifications).toBe(4); // 'a' was evicted by 'c'
  });

  it('bounds the memory it holds, not only the count: big distinct tokens evict the oldest sooner', async () => {
    const { authority, state } = countingAuthority();
    const auth = new JwtAuthenticator(() => authority, 10_000, 256 * 1024);
    const big = (i: number) => token(`${i}-${'x'.repeat(30_000)}`); // ~40 KB each
    for (let i = 0; i < 20; i++) await auth.authenticate(big(i));
    expect(state.verifications).toBe(20);
    await auth.authenticate(big(19)); // the newest is still cached
    expect(state.verifications).toBe(20);
    await auth.authenticate(big(0)); // the oldest was evicted to stay within the bound
    expect(state.verifications).toBe(21);
    // small tokens still fit by the thousand in the same bound
    for (let i = 0; i < 100; i++) await auth.authenticate(token(`s${i}`));
    for (let i = 0; i < 100; i++) await auth.authenticate(token(`s${i}`));
    expect(state.verifications).toBe(121);
  });
});
