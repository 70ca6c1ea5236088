/**
 * A circuit breaker per plugin entry: `failureThreshold` consecutive failed requests open it;
 * while open, callers are refused without calling the service; after `resetMs` one trial request
 * goes through (half-open): its success closes the breaker, its failure re-opens it.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt: number | null = null;
  private trialInFlight = false;

  constructor(
    private readonly failureThreshold: number,
    private readonly resetMs: number,
  ) {}

  /** True when a call may go out now (claims the half-open trial when it is due). */
  allow(nowMs: number): boolean {
    if (this.openedAt === null) return true;
    if (this.trialInFlight || nowMs - this.openedAt < this.resetMs) return false;
    this.trialInFlight = true;
    return true;
  }

  /** Seconds until the next trial (for Retry-After). */
  retryAfterSeconds(nowMs: number): number {
    if (this.openedAt === null) return 0;
    return Math.max(1, Math.ceil((this.openedAt + this.resetMs - nowMs) / 1000));
  }

  succeeded(): void {
    this.failures = 0;
    this.openedAt = null;
    this.trialInFlight = false;
  }

  failed(nowMs: number): void {
    this.failures++;
    if (this.trialInFlight || this.failures >= this.failureThreshold) {
      this.openedAt = nowMs;
      this.trialInFlight = false;
    }
  }

  get state(): 'closed' | 'open' | 'half-open' {
    if (this.openedAt === null) return 'closed';
    return this.trialInFlight ? 'half-open' : 'open';
  }
}
