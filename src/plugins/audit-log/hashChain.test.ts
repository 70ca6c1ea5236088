import { describe, expect, it } from 'vitest';
import { GENESIS_HASH, canonicalJson, checkLine, sealRecord } from './hashChain.js';

describe('hash chain', () => {
  it('canonical JSON is RFC 8785: sorted members, no whitespace, ECMAScript numbers and strings', () => {
    // The RFC's own example values (§3.2.2 numbers, §3.2.3 sorting by UTF-16 code units).
    // eslint-disable-next-line no-loss-of-precision -- RFC 8785's vector: the literal rounds to 333333333.3333333
    const rfcNumber = 333333333.33333329;
    expect(canonicalJson({ numbers: [rfcNumber, 1e30, 4.5, 2e-3, 0.000000000000000000000000001], literals: [null, true, false] })).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27]}',
    );
    expect(canonicalJson({ '\u20ac': 'Euro Sign', '\r': 'Carriage Return', '\ufb33': 'Hebrew Letter Dalet With Dagesh', '1': 'One', '\ud83d\ude00': 'Emoji: Grinning Face', '\u0080': 'Control', '\u00f6': 'Latin Small Letter O With Diaeresis' })).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
    expect(() => canonicalJson({ x: Number.NaN })).toThrow();
  });

  it('a sealed line verifies, also after a shipper re-serializes it; any changed value does not', () => {
    const record = { timestamp: '2026-01-01T00:00:00.000Z', request_id: 'r1', status_code: 200, latency_ms: 12.345, tools_used: ['search'], user_agent: 'curl/8 "q"' };
    const first = sealRecord(record, GENESIS_HASH);
    const second = sealRecord({ ...record, request_id: 'r2' }, first.hash);
    expect(checkLine(first.line, null)).toEqual({ problem: null, hash: first.hash });
    expect(checkLine(second.line, first.hash).problem).toBeNull();
    expect(Object.keys(JSON.parse(first.line) as object).slice(-2)).toEqual(['prev_hash', 'hash']);

    const reordered = JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(first.line) as object).reverse()), null, 2).replace(/\n/g, ' ');
    expect(checkLine(reordered, null).problem).toBeNull();

    expect(checkLine(first.line.replace('"status_code":200', '"status_code":500'), null).problem).toMatch(/does not match its hash/);
    expect(checkLine(second.line, GENESIS_HASH).problem).toMatch(/prev_hash does not match/);
    expect(checkLine('{"status_code":200', null).problem).toMatch(/not a JSON object/);
    expect(checkLine(JSON.stringify(record), null).problem).toMatch(/no valid "hash"/);
  });
});
