/**
 * A consecutive-failure circuit breaker: after `threshold` failures in a row the circuit opens
 * for `openMs`; then one probe is let through (half-open) and its outcome closes or reopens it.
 */
export type BreakerState = 'closed' | 'open' | 'half_open';

export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private probing = false;
  private reported: BreakerState = 'closed';

  constructor(
    private readonly threshold: number,
    private readonly openMs: number,
    private readonly now: () => number = Date.now,
    /** Called once per change of state (for a log line each). */
    private readonly onChange: (state: BreakerState, failures: number) => void = () => undefined,
  ) {}

  private report(): void {
    const state = this.state;
    if (state === this.reported) return;
    this.reported = state;
    this.onChange(state, this.failures);
  }

  get state(): 'closed' | 'open' | 'half_open' {
    if (this.failures < this.threshold) return 'closed';
    return this.now() - this.openedAt >= this.openMs ? 'half_open' : 'open';
  }

  /** May a call go out now? In half-open state only one probe at a time. */
  allow(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open' || this.probing) return false;
    this.probing = true;
    this.report();
    return true;
  }

  success(): void {
    this.failures = 0;
    this.probing = false;
    this.report();
  }

  /** A call that says nothing about the service's health: frees a half-open probe slot. */
  release(): void {
    this.probing = false;
  }

  failure(): void {
    this.probing = false;
    this.failures++;
    if (this.failures >= this.threshold) this.openedAt = this.now();
    this.report();
  }
}
