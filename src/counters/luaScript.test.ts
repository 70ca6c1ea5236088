import { createHash } from 'node:crypto';
import { Command, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedRedisUrl } from '../../test/helpers/redis.js';
import { respFrame, type RedisArg } from './luaScript.js';

/** What ioredis itself writes for the same command. */
function ioredisFrame(name: string, argv: RedisArg[]): Buffer {
  const written = new Command(name, argv).toWritable({});
  return Buffer.isBuffer(written) ? written : Buffer.from(written, 'utf8');
}

describe('respFrame', () => {
  it('encodes byte for byte what ioredis encodes', () => {
    const cases: RedisArg[][] = [
      [],
      [''],
      ['a', 0, 1, 9, 10, 99, 100, 12345678901234, -1, -0, 0.5, 1e21, Number.MAX_SAFE_INTEGER],
      ['tollgate:rl:ip:127.0.0.1', 'w', 100, 60_000, 1, 1, ''],
      ['usér', 'é'.repeat(5), '日'.repeat(4), '😀'.repeat(3), 'ü'.repeat(50), 'ключ', '日本語のキー', '😀 emoji', 'é'.repeat(40), 'x'.repeat(63), 'x'.repeat(64), 'ü'.repeat(64), 'a'.repeat(70_000)],
      ['line\r\nbreak', '\u0000nul', '"quoted"', '$3\r\n'],
    ];
    for (const argv of cases) expect(respFrame('evalsha', argv).equals(ioredisFrame('evalsha', argv))).toBe(true);
  });

  it('matches ioredis on random arguments', () => {
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const alphabet = ['a', 'Z', '0', ':', ' ', 'é', 'ß', '€', '中', '😀', '\r', '\n'];
    for (let round = 0; round < 300; round++) {
      const argv: RedisArg[] = [];
      const n = Math.floor(rand() * 40);
      for (let i = 0; i < n; i++) {
        if (rand() < 0.4) argv.push(Math.floor(rand() * 2 ** 40) - (rand() < 0.1 ? 2 ** 39 : 0));
        else {
          let s = '';
          const len = Math.floor(rand() * (rand() < 0.1 ? 300 : 20));
          for (let c = 0; c < len; c++) s += alphabet[Math.floor(rand() * alphabet.length)];
          argv.push(s);
        }
      }
      expect(respFrame('eval', argv).equals(ioredisFrame('eval', argv))).toBe(true);
    }
  });
});

describe('LuaScript frames against a real Redis', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(sharedRedisUrl());
  });
  afterAll(() => redis.disconnect());

  it('round-trips UTF-8 keys and values through EVAL', async () => {
    const { LuaScript } = await import('./luaScript.js');
    // An ad-hoc script object: the frame path is the same for every script.
    const echo = Object.create(LuaScript.prototype) as InstanceType<typeof LuaScript>;
    Object.assign(echo, { name: 'echo', source: 'return {KEYS[1], ARGV[1], ARGV[2], tostring(#ARGV[3])}', sha: '0'.repeat(40) });
    const reply = await echo.run(redis, ['', 1, 'ключ:😀', 'wert-ü', 12345, 'x'.repeat(70_000)]);
    expect(reply).toEqual(['ключ:😀', 'wert-ü', '12345', '70000']);
  });

  it('falls back to EVAL when the server does not know the script, then EVALSHA works', async () => {
    const { LuaScript } = await import('./luaScript.js');
    const source = "return {'sum', tonumber(ARGV[1]) + tonumber(ARGV[2])}";
    const script = Object.create(LuaScript.prototype) as InstanceType<typeof LuaScript>;
    Object.assign(script, { name: 'sum', source, sha: createHash('sha1').update(source).digest('hex') });
    await redis.script('FLUSH');
    expect(await redis.script('EXISTS', script.sha)).toEqual([0]);
    expect(await script.run(redis, ['', 0, 40, 2])).toEqual(['sum', 42]);
    // EVAL cached it: the next call is an EVALSHA that the server answers.
    expect(await redis.script('EXISTS', script.sha)).toEqual([1]);
    expect(await script.run(redis, ['', 0, 1, 2])).toEqual(['sum', 3]);
  });
});
