import { describe, expect, it } from 'vitest';
import { bearerToken, findToken } from './tokenSource.js';

const places = { headerNames: ['authorization'], cookieNames: [], uriParamNames: [] };

describe('bearerToken', () => {
  it('reads the token of a Bearer value, case-insensitively, and refuses anything else', () => {
    expect(bearerToken('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(bearerToken('  bEaReR \t abc  ')).toBe('abc');
    expect(bearerToken(['Bearer first', 'Bearer second'])).toBe('first');
    for (const v of ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer ', 'Bearerabc', '']) expect(bearerToken(v), v).toBeNull();
    // A Bearer value that holds more than one token was sent, and is refused as such (invalid_token).
    for (const v of ['Bearer a b', 'Bearer a, Bearer b']) expect(() => bearerToken(v), v).toThrow(/must hold one Bearer token/);
    expect(bearerToken(undefined)).toBeNull();
  });

  it('gives a connection that repeats its header the same token, and reads a changed header anew', () => {
    const connection = {};
    const header = Buffer.from('Bearer token-one').toString('latin1'); // a fresh string, as each request's header is
    const first = bearerToken(header, connection);
    expect(first).toBe('token-one');
    expect(bearerToken(Buffer.from(header).toString('latin1'), connection)).toBe(first);
    expect(bearerToken('Bearer token-onf', connection)).toBe('token-onf');
    expect(() => bearerToken('Bearer a b', connection)).toThrow(/must hold one Bearer token/);
    expect(() => bearerToken('Bearer a b', connection)).toThrow(/must hold one Bearer token/);
    expect(bearerToken('Bearer token-one', connection)).toBe('token-one');
    // another connection does not see this one's memo
    expect(bearerToken('Basic x', {})).toBeNull();
    expect(bearerToken('Bearer token-two', {})).toBe('token-two');
  });

  it('findToken passes the connection through and still refuses two different tokens', () => {
    const connection = {};
    expect(findToken({ authorization: 'Bearer t1' }, '', places, connection)).toBe('t1');
    expect(findToken({ authorization: 'Bearer t2' }, '', places, connection)).toBe('t2');
    const two = { ...places, headerNames: ['authorization', 'x-token'] };
    expect(() => findToken({ authorization: 'Bearer t1', 'x-token': 'Bearer t2' }, '', two, connection)).toThrow(/Multiple tokens/);
  });
});
