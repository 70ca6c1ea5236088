/**
 * A Map bounded to `max` entries, and optionally to `maxWeight` in all (each `set` says what its
 * entry weighs, e.g. its approximate bytes), that evicts the least recently used entries. A Map
 * iterates in insertion order, so moving an entry to the end on every hit keeps the oldest first.
 */
export class LruMap<K, V> {
  private readonly entries = new Map<K, V>();
  /** Entry weights, kept only when a weight bound is set (a hit needs no update). */
  private readonly weights: Map<K, number> | null;
  private total = 0;

  constructor(
    readonly max: number,
    readonly maxWeight = Infinity,
  ) {
    this.weights = Number.isFinite(maxWeight) ? new Map() : null;
  }

  /** The value, now the most recently used; undefined when absent. */
  get(key: K): V | undefined {
    const v = this.entries.get(key);
    if (v === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, v);
    return v;
  }

  /**
   * Stores the value as the most recently used, evicting the least recently used ones until it
   * fits. An entry heavier than `maxWeight` on its own is not stored.
   */
  set(key: K, value: V, weight = 0): void {
    this.delete(key);
    if (weight > this.maxWeight) return;
    while (this.entries.size > 0 && (this.entries.size >= this.max || this.total + weight > this.maxWeight)) {
      this.delete(this.entries.keys().next().value as K);
    }
    this.entries.set(key, value);
    if (this.weights !== null) {
      this.weights.set(key, weight);
      this.total += weight;
    }
  }

  delete(key: K): void {
    if (!this.entries.delete(key) || this.weights === null) return;
    this.total -= this.weights.get(key) ?? 0;
    this.weights.delete(key);
  }

  clear(): void {
    this.entries.clear();
    this.weights?.clear();
    this.total = 0;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The sum of the entries' weights (0 without a weight bound). */
  get weight(): number {
    return this.total;
  }
}
