/**
 * One Lua script from src/counters/lua/ (copied beside the compiled code by the build), run with
 * EVALSHA and, when the server does not know it yet (first use, Redis restarted), EVAL.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

export type RedisArg = string | number;

/** Helpers every budget script uses (one EVAL body per script: they cannot load each other). */
const PRELUDE = readFileSync(new URL('./lua/_budget.lua', import.meta.url), 'utf8');

export class LuaScript {
  readonly name: string;
  readonly source: string;
  readonly sha: string;

  /** Reads `lua/<name>.lua` next to this module (once, at startup), after the shared `_budget.lua`. */
  constructor(name: string) {
    this.name = name;
    this.source = PRELUDE + readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8');
    this.sha = createHash('sha1').update(this.source).digest('hex');
  }

  /**
   * Runs the script. `argv` is `[<slot for the sha>, numkeys, ...keys, ...args]`: the first
   * element is overwritten here, so callers build one array per call and nothing is copied.
   */
  async run(redis: Redis, argv: RedisArg[]): Promise<unknown> {
    argv[0] = this.sha;
    try {
      return await redis.call('EVALSHA', argv);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      argv[0] = this.source;
      return redis.call('EVAL', argv);
    }
  }
}
