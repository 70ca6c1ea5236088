import type { Registry } from 'prom-client';

/**
 * Counters and histograms for the request path, registered in the same prom-client Registry as
 * every other metric but updated without prom-client's per-call label work (validation, label
 * hashing, closures): a caller looks a label set up once (`series(labels)`), keeps the handle
 * (per route, see handler.ts), and an update is then an addition. The exposition format is
 * prom-client's own: `get()` returns the shape its Registry formats.
 */

type Labels<L extends string> = Record<L, string>;

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

interface MetricSnapshot {
  name: string;
  help: string;
  type: string;
  values: MetricValue[];
  aggregator: 'sum';
}

function keyOf<L extends string>(names: readonly L[], labels: Labels<L>): string {
  let key = '';
  for (const n of names) key += `${labels[n]}\u0001`;
  return key;
}

export class CounterSeries<L extends string> {
  value = 0;
  constructor(readonly labels: Labels<L>) {}
  inc(n = 1): void {
    this.value += n;
  }
}

export class HistogramSeries<L extends string> {
  /** Observations per bucket (not cumulative); the last slot is above every bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(
    readonly labels: Labels<L>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

/** A metric family: its series by label set, registered once in the Registry. */
abstract class Family<L extends string, S> {
  readonly aggregator = 'sum' as const;
  protected readonly all = new Map<string, S>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly L[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  protected abstract create(labels: Labels<L>): S;
  abstract readonly type: string;
  protected abstract values(): MetricValue[];

  /** The series of one label set (created on first use); keep the handle. */
  series(labels: Labels<L>): S {
    const key = keyOf(this.labelNames, labels);
    let s = this.all.get(key);
    if (s === undefined) {
      s = this.create({ ...labels });
      this.all.set(key, s);
    }
    return s;
  }

  get(): MetricSnapshot {
    return { name: this.name, help: this.help, type: this.type, values: this.values(), aggregator: this.aggregator };
  }

  reset(): void {
    this.all.clear();
  }
}

export class FastCounter<L extends string> extends Family<L, CounterSeries<L>> {
  constructor(
    name: string,
    help: string,
    labelNames: readonly L[],
    registry: Registry,
    /** `untyped` for Kong's names that break Prometheus' naming conventions. */
    readonly type: 'counter' | 'untyped' = 'counter',
  ) {
    super(name, help, labelNames, registry);
  }

  protected create(labels: Labels<L>): CounterSeries<L> {
    return new CounterSeries(labels);
  }

  protected values(): MetricValue[] {
    const values: MetricValue[] = [];
    for (const s of this.all.values()) values.push({ labels: s.labels, value: s.value });
    return values;
  }
}

export class FastHistogram<L extends string> extends Family<L, HistogramSeries<L>> {
  readonly type = 'histogram';

  constructor(
    name: string,
    help: string,
    labelNames: readonly L[],
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    super(name, help, labelNames, registry);
  }

  protected create(labels: Labels<L>): HistogramSeries<L> {
    return new HistogramSeries(labels, this.bounds);
  }

  protected values(): MetricValue[] {
    const values: MetricValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.all.values()) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += s.counts[i]!;
        values.push({ labels: { ...s.labels, le }, value: cumulative, metricName: bucket });
      });
      values.push({ labels: { ...s.labels, le: '+Inf' }, value: s.count, metricName: bucket });
      values.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: s.labels, value: s.count, metricName: `${this.name}_count` });
    }
    return values;
  }
}
