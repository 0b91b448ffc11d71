import type { Clock } from '../../src/clock';

/** A clock the test moves: `advance(ms)` runs every timer that falls due, in order. */
export class ManualClock implements Clock {
  private timers: Array<{ next: number; ms: number; fn: () => void; live: boolean }> = [];

  constructor(private current = Date.now()) {}

  now(): number {
    return this.current;
  }

  every(ms: number, fn: () => void): () => void {
    const timer = { next: this.current + ms, ms, fn, live: true };
    this.timers.push(timer);
    return () => {
      timer.live = false;
    };
  }

  /** Moves time forward and fires due timers; resolves after their promises had a turn. */
  async advance(ms: number): Promise<void> {
    const until = this.current + ms;
    for (;;) {
      const due = this.timers
        .filter((t) => t.live && t.next <= until)
        .sort((a, b) => a.next - b.next)[0];
      if (!due) break;
      this.current = due.next;
      due.next += due.ms;
      due.fn();
    }
    this.current = until;
    await new Promise((r) => setImmediate(r));
  }
}
