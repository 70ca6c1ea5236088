import { describe, expect, it } from 'vitest';
import { AUDIT_FIELDS, serializeRecord, timestampOf, type AuditRecord } from './record.js';
import { seededRandom } from '../../ai/__fixtures__/feed.js';

const typical: AuditRecord = {
  timestamp: '2026-11-23T18:26:44.623Z',
  request_id: 'e94810da-3f65-4600-95e3-aa32c8b38ada',
  user_id: 'bench-user',
  workspace_id: 'bench',
  method: 'POST',
  path: '/v1/chat/completions',
  status_code: 200,
  latency_ms: 46.258,
  tokens_used: 14,
  model_name: 'bench-model',
  tools_used: [],
  ip_address: '127.0.0.1',
  user_agent: 'node',
  service: 'llm-gateway',
  route: 'chat',
  consumer: 'bench',
  client_id: null,
  auth_method: 'jwt',
  upstream_latency_ms: 20.069,
  gateway_latency_ms: 26.189,
  prompt_tokens: 12,
  completion_tokens: 2,
  tokens_estimated: false,
  rate_limited: null,
  bytes_in: 88,
  bytes_out: 234,
  error: null,
};

const STRING_FIELDS = ['timestamp', 'request_id', 'user_id', 'workspace_id', 'method', 'path', 'model_name', 'ip_address', 'user_agent', 'service', 'route', 'consumer', 'client_id', 'auth_method', 'rate_limited', 'error'] as const;

describe('serializeRecord', () => {
  it('writes exactly what JSON.stringify writes, field order included', () => {
    expect(serializeRecord(typical)).toBe(JSON.stringify(typical));
    expect(Object.keys(JSON.parse(serializeRecord(typical)) as object)).toEqual(AUDIT_FIELDS);
    const nulls = { ...typical, user_id: null, workspace_id: null, latency_ms: null, tokens_used: null, model_name: null, user_agent: null, service: null, route: null, consumer: null, auth_method: null, upstream_latency_ms: null, gateway_latency_ms: null, prompt_tokens: null, completion_tokens: null, tokens_estimated: null };
    expect(serializeRecord(nulls)).toBe(JSON.stringify(nulls));
    const odd = { ...typical, latency_ms: Number.NaN, upstream_latency_ms: Number.POSITIVE_INFINITY, gateway_latency_ms: -0, bytes_out: 1e21, tokens_estimated: true, tools_used: ['get_weather', 'say "hi"', 'ü'] };
    expect(serializeRecord(odd)).toBe(JSON.stringify(odd));
  });

  it('escapes every string field as JSON.stringify does (quotes, backslashes, controls, unicode, lone surrogates)', () => {
    const tricky = ['"', '\\', 'a\nb', '\u0000\u001f\u007f', 'tab\there', 'ünïcödé', '😀', '\ud800', '\udc00x', '\u2028\u2029', '</script>', ''];
    for (const field of STRING_FIELDS) {
      for (const value of tricky) {
        const record = { ...typical, [field]: value };
        expect(serializeRecord(record), `${field} = ${JSON.stringify(value)}`).toBe(JSON.stringify(record));
      }
    }
    const random = seededRandom(42);
    for (let n = 0; n < 500; n++) {
      const value = String.fromCharCode(...Array.from({ length: 1 + Math.floor(random() * 12) }, () => Math.floor(random() * (random() < 0.8 ? 128 : 0x10000))));
      const record = { ...typical, user_agent: value, error: value };
      expect(serializeRecord(record)).toBe(JSON.stringify(record));
    }
  });
});

describe('serializeRecord numbers', () => {
  it('writes milliseconds exactly as JSON.stringify does: every thousandth, large, tiny, and unrounded values', () => {
    const check = (v: number) => {
      const record = { ...typical, latency_ms: v, upstream_latency_ms: -v, gateway_latency_ms: v / 7 };
      expect(serializeRecord(record)).toBe(JSON.stringify(record));
    };
    for (let n = 1; n <= 200_000; n++) check(n / 1000);
    const random = seededRandom(11);
    for (let i = 0; i < 20_000; i++) {
      check(Math.round(random() * 1e15) / 1000);
      check(Math.round(random() * 1e9) / 1000);
      check(random() * 1000);
    }
    for (const v of [0.001, 0.1, 0.5, 999.999, 1e12 - 0.001, 1e12 + 0.5, 2 ** 53 / 1000, 5e-7, 1e-300, Number.MIN_VALUE, Number.MAX_VALUE, 0.1 + 0.2]) check(v);
  });
});

describe('timestampOf', () => {
  it('writes what toISOString writes, across milliseconds, seconds, days, years and back in time', () => {
    const random = seededRandom(7);
    const starts = [Date.UTC(2026, 11, 31, 23, 59, 59, 990), Date.UTC(2024, 1, 29, 0, 0, 0, 0), 0, Date.UTC(9999, 11, 31, 23, 59, 59, 995), Date.now()];
    for (const start of starts) {
      for (let ms = start; ms < start + 30; ms++) expect(timestampOf(ms)).toBe(new Date(ms).toISOString());
    }
    for (let i = 0; i < 2000; i++) {
      const ms = Math.floor(random() * Date.UTC(9999, 0, 1));
      expect(timestampOf(ms)).toBe(new Date(ms).toISOString());
    }
    // past year 9999 the prefix is not fixed-width: still toISOString's text
    expect(timestampOf(Date.UTC(10000, 0, 1, 0, 0, 0, 7))).toBe(new Date(Date.UTC(10000, 0, 1, 0, 0, 0, 7)).toISOString());
  });
});
