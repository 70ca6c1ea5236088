import type { PluginEnv, PluginHandler } from '../../core/plugin.js';
import type { PluginInstance } from '../../core/pipeline.js';
import type { BudgetUsage, CounterStore } from '../../counters/types.js';
import type { TokenBudgetConfig } from './schema.js';
import { DailyPeriod, type BudgetDay } from './dailyPeriod.js';

/**
 * One token-budget entry's accounting rules, shared by its request handler and the Admin API
 * (`/workspaces/{id}`): which counter key holds a workspace's usage today, when it resets, and
 * the default limit.
 *
 * Key: `tb:<workspace>:<local date>` — the same for every unnamed token-budget entry, so a
 * workspace has one daily budget whichever route (or scope) charges it. An entry with an
 * `instance_name` keeps a separate budget (`tb:<workspace>:<date>:<instance_name>`).
 */
export class BudgetBook {
  readonly defaultLimit: number;
  readonly policy: 'local' | 'redis';
  readonly faultTolerant: boolean;
  readonly period: DailyPeriod;
  readonly instanceName: string | null;
  readonly global: boolean;
  readonly counters: CounterStore;
  private readonly suffix: string;

  constructor(config: TokenBudgetConfig, env: PluginEnv) {
    this.defaultLimit = config.day;
    this.policy = config.policy ?? (env.gateway.redis ? 'redis' : 'local');
    this.faultTolerant = config.fault_tolerant;
    this.period = new DailyPeriod(config.reset_timezone);
    this.instanceName = env.instanceName;
    this.global = env.scope.kind === 'global';
    this.counters = env.counters;
    this.suffix = env.instanceName === null ? '' : `:${env.instanceName}`;
  }

  key(workspace: string, day: BudgetDay): string {
    return `tb:${workspace}:${day.date}${this.suffix}`;
  }

  /** Today's usage of a workspace (throws CountersUnavailableError while Redis is unreachable). */
  async usage(workspace: string, nowMs = Date.now()): Promise<BudgetUsage & { day: BudgetDay }> {
    const day = this.period.at(nowMs);
    const usage = await this.counters.budgetUsage(this.key(workspace, day), this.policy);
    return { ...usage, day };
  }

  /** Clears today's usage and reservations of a workspace. */
  async reset(workspace: string, nowMs = Date.now()): Promise<void> {
    await this.counters.resetBudget(this.key(workspace, this.period.at(nowMs)), this.policy);
  }
}

const books = new WeakMap<PluginHandler, BudgetBook>();

export function registerBook(handler: PluginHandler, book: BudgetBook): void {
  books.set(handler, book);
}

/** Every token-budget entry of a loaded config; the main one (global, unnamed) first. */
export function budgetBooks(instances: readonly PluginInstance[]): BudgetBook[] {
  const found: BudgetBook[] = [];
  for (const inst of instances) {
    const book = inst.name === 'token-budget' ? books.get(inst.handler) : undefined;
    if (book !== undefined) found.push(book);
  }
  const rank = (b: BudgetBook) => (b.instanceName === null ? 0 : 2) + (b.global ? 0 : 1);
  return found.sort((a, b) => rank(a) - rank(b));
}
