/**
 * The one clock (milliseconds since the epoch) and the repeating timers built on it. Passed
 * from the top so tests drive time instead of sleeping (test/helpers/manual-clock.ts).
 */
export interface Clock {
  now(): number;
  /** Calls `fn` every `ms` until the returned stop function is called; never keeps the process alive. */
  every(ms: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  every(ms, fn) {
    const timer = setInterval(fn, ms);
    timer.unref();
    return () => clearInterval(timer);
  },
};
