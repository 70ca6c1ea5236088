/**
 * The latest budget totals this replica has seen per budget key (from admissions, settlements
 * and releases), so that:
 *
 * - the response-headers phase can show numbers fresher than the request's own admission
 *   (another request settled in between), and
 * - the metrics plugin can export `kong_token_budget_remaining{workspace_id}` without a counter
 *   call per scrape: `tokenBudgetRemaining()`.
 *
 * Bounded: entries of a day that has ended are dropped; past 10 000 keys the map starts over.
 */

export interface Observation {
  workspace: string;
  /** Entry's instance name (null for the main, unnamed budget). */
  instance: string | null;
  limit: number;
  used: number;
  reserved: number;
  periodEndMs: number;
  /** Increases with every observation; compares freshness. */
  seq: number;
}

const MAX_KEYS = 10_000;
let observations = new Map<string, Observation>();
let nextSeq = 1;

export function currentSeq(): number {
  return nextSeq;
}

/** Records totals for a key; returns the observation's sequence number. */
export function observe(key: string, workspace: string, instance: string | null, limit: number, used: number, reserved: number, periodEndMs: number): number {
  const seq = nextSeq++;
  const o = observations.get(key);
  if (o !== undefined) {
    o.limit = limit;
    o.used = used;
    o.reserved = reserved;
    o.periodEndMs = periodEndMs;
    o.seq = seq;
    return seq;
  }
  if (observations.size >= MAX_KEYS) prune(Date.now());
  if (observations.size >= MAX_KEYS) observations = new Map();
  observations.set(key, { workspace, instance, limit, used, reserved, periodEndMs, seq });
  return seq;
}

export function latest(key: string): Observation | undefined {
  return observations.get(key);
}

function prune(nowMs: number): void {
  for (const [key, o] of observations) if (o.periodEndMs <= nowMs) observations.delete(key);
}

export interface BudgetGauge {
  workspace_id: string;
  /** null: the main budget; else the token-budget entry's instance_name. */
  instance: string | null;
  limit: number;
  used: number;
  reserved: number;
  /** limit − used − reserved, at least 0. */
  remaining: number;
}

/**
 * Today's budgets this replica has seen, as last known (for `kong_token_budget_remaining`).
 * Exact for a replica that charged the workspace last; with several replicas each reports what
 * it saw most recently (the Admin API `GET /workspaces/{id}` reads the shared counter).
 */
export function tokenBudgetRemaining(nowMs = Date.now()): BudgetGauge[] {
  prune(nowMs);
  const out: BudgetGauge[] = [];
  for (const o of observations.values()) {
    out.push({ workspace_id: o.workspace, instance: o.instance, limit: o.limit, used: o.used, reserved: o.reserved, remaining: Math.max(0, o.limit - o.used - o.reserved) });
  }
  return out;
}
