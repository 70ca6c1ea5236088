/**
 * Collects the calls made during one event-loop turn and runs them together after it
 * (setImmediate), in batches of at most `max`, in call order: concurrent requests then share one
 * Redis command instead of one each. `run` answers a batch with one result per item, in order;
 * if it throws, every item of that batch is rejected with the error.
 */
export class TurnBatch<In, Out> {
  private queue: Array<{ item: In; resolve(out: Out): void; reject(err: unknown): void }> = [];
  /** Batches running (drain() waits for them). */
  private readonly running = new Set<Promise<void>>();

  /** `schedule` runs a flush after the turn: setImmediate, or a SharedTurn's. */
  constructor(
    private readonly max: number,
    private readonly run: (items: In[]) => Promise<Out[]>,
    private readonly schedule: (flush: () => void) => void = setImmediate,
  ) {}

  add(item: In): Promise<Out> {
    return new Promise((resolve, reject) => {
      if (this.queue.push({ item, resolve, reject }) === 1) this.schedule(this.flush);
    });
  }

  /** Sends what is queued now, then resolves once every batch sent has been answered. */
  async drain(): Promise<void> {
    this.flush();
    await Promise.all(this.running);
  }

  private readonly flush = (): void => {
    const all = this.queue;
    this.queue = [];
    for (let from = 0; from < all.length; from += this.max) {
      const part = all.length <= this.max ? all : all.slice(from, from + this.max);
      const call: Promise<void> = this.send(part).finally(() => this.running.delete(call));
      this.running.add(call);
    }
  };

  private async send(part: Array<{ item: In; resolve(out: Out): void; reject(err: unknown): void }>): Promise<void> {
    let outs: Out[];
    try {
      outs = await this.run(part.map((p) => p.item));
    } catch (err) {
      for (const p of part) p.reject(err);
      return;
    }
    for (let i = 0; i < part.length; i++) part[i]!.resolve(outs[i]!);
  }
}

/**
 * One setImmediate for several TurnBatches: their flushes of one turn run back to back inside
 * `around` (the Redis counters cork the socket there, so the admission and the settlement
 * commands of a turn leave in one write instead of one each).
 */
export class SharedTurn {
  private pending: Array<() => void> = [];

  constructor(private readonly around: (flushAll: () => void) => void = (f) => f()) {}

  readonly schedule = (flush: () => void): void => {
    if (this.pending.push(flush) === 1) setImmediate(this.run);
  };

  private readonly run = (): void => {
    const list = this.pending;
    this.pending = [];
    this.around(() => {
      for (const flush of list) flush();
    });
  };
}
