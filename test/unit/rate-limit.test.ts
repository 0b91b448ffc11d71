/**
 * GCRA: the pure step and what it means for the client, table-driven and as
 * properties; the per-process limiter on a driven clock, and its outage fallback rule.
 */
import fc from 'fast-check';
import {
  RateLimiter,
  gcraDecision,
  gcraParams,
  gcraStep,
  rateLimitHeaders,
  rateLimitedError,
  type RateLimitRule,
} from '../../src/rate-limit';
import { ManualClock } from '../helpers/manual-clock';

/** Runs `n` requests at the given microsecond instants through gcraStep; returns the verdicts. */
function run(rpm: number, burst: number, times: number[]): boolean[] {
  const p = gcraParams(rpm, burst);
  let tat: number | undefined;
  return times.map((t) => {
    const step = gcraStep(tat, t, p);
    if (step.allowed) tat = step.tat;
    return step.allowed;
  });
}

const at = (n: number, us = 0): number[] => Array.from({ length: n }, () => us);

describe('gcraStep', () => {
  it.each([
    [
      'a fresh key takes a whole burst at once',
      60,
      5,
      at(6),
      [true, true, true, true, true, false],
    ],
    ['burst 1 is one request per interval', 60, 1, [0, 999_999, 1_000_000], [true, false, true]],
    [
      'one request comes back per interval',
      60,
      2,
      [0, 0, 0, 1_000_000, 1_000_000],
      [true, true, false, true, false],
    ],
    [
      'a long pause restores the burst, not more',
      60,
      2,
      [0, 0, 100e6, 100e6, 100e6],
      [true, true, true, true, false],
    ],
    [
      '600/min is one per 100 ms',
      600,
      1,
      [0, 50_000, 100_000, 199_999, 200_000],
      [true, false, true, false, true],
    ],
  ])('%s', (_name, rpm, burst, times, expected) => {
    expect(run(rpm, burst, times)).toEqual(expected);
  });

  it('property: in any run, allowed requests never exceed burst + elapsed/interval', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6000 }),
        fc.integer({ min: 1, max: 200 }),
        fc.array(fc.integer({ min: 0, max: 5_000_000 }), { minLength: 1, maxLength: 300 }),
        (rpm, burst, gaps) => {
          const times: number[] = [];
          let t = 1e12;
          for (const g of gaps) times.push((t += g));
          const verdicts = run(rpm, burst, times);
          const { intervalUs } = gcraParams(rpm, burst);
          const allowed = verdicts.filter(Boolean).length;
          const elapsed = times[times.length - 1]! - times[0]!;
          return allowed <= burst + Math.floor(elapsed / intervalUs) + 1;
        },
      ),
    );
  });

  it('property: requests spaced by the interval are always allowed', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6000 }),
        fc.integer({ min: 1, max: 50 }),
        (rpm, burst) => {
          const { intervalUs } = gcraParams(rpm, burst);
          const times = Array.from({ length: 50 }, (_, i) => i * Math.ceil(intervalUs));
          return run(rpm, burst, times).every(Boolean);
        },
      ),
    );
  });
});

describe('gcraDecision', () => {
  const p = gcraParams(60, 10);
  it.each([
    ['fresh key, first request', undefined, 0, { allowed: true, remaining: 9, resetSec: 1 }],
    ['ten at once leave nothing', 9e6, 0, { allowed: true, remaining: 0, resetSec: 10 }],
    [
      'refused: retry when one interval has passed',
      10e6,
      0,
      { allowed: false, retryAfterSec: 1, remaining: 0 },
    ],
    ['half a burst used 5 s ago', 10e6, 5e6, { allowed: true, remaining: 4, resetSec: 6 }],
  ])('%s', (_name, tat, now, expected) => {
    const step = gcraStep(tat, now, p);
    expect(gcraDecision(step, now, p, 10, false)).toMatchObject({
      quota: 10,
      windowSec: 10,
      local: false,
      ...expected,
    });
  });
});

describe('RateLimit fields', () => {
  const decision = gcraDecision(
    gcraStep(undefined, 0, gcraParams(600, 600)),
    0,
    gcraParams(600, 600),
    600,
    true,
  );
  it('RateLimit-Policy and RateLimit name the route as a structured-field string', () => {
    expect(rateLimitHeaders('api', decision)).toEqual([
      'RateLimit-Policy',
      '"api";q=600;w=60',
      'RateLimit',
      '"api";r=599;t=1',
    ]);
  });
  it('a 429 carries Retry-After and the same fields', () => {
    const p = gcraParams(60, 1);
    const refused = gcraDecision(gcraStep(1e6, 0, p), 0, p, 1, false);
    const err = rateLimitedError(refused, 'api');
    expect(err.code).toBe('RATE_LIMITED');
    expect(err.headers).toEqual({
      'Retry-After': '1',
      'RateLimit-Policy': '"api";q=1;w=1',
      RateLimit: '"api";r=0;t=1',
    });
  });
});

describe('RateLimiter without Redis', () => {
  const rule: RateLimitRule = { name: 'api', requestsPerMinute: 60, burst: 3 };
  it('counts per subject on the injected clock', async () => {
    const clock = new ManualClock(1_000_000);
    const limiter = new RateLimiter({ clock });
    const verdicts = [];
    for (let i = 0; i < 4; i++)
      verdicts.push((await limiter.hit(rule, 'principal', 'alice')).allowed);
    expect(verdicts).toEqual([true, true, true, false]);
    expect((await limiter.hit(rule, 'principal', 'bob')).allowed).toBe(true);
    await clock.advance(1000);
    expect((await limiter.hit(rule, 'principal', 'alice')).allowed).toBe(true);
    expect((await limiter.hit(rule, 'principal', 'alice')).allowed).toBe(false);
  });
  it('a flood of new subjects does not give a throttled subject its budget back', async () => {
    const limiter = new RateLimiter({ clock: new ManualClock(1_000_000) });
    for (let i = 0; i < 3; i++) await limiter.hit(rule, 'ip', 'greedy');
    for (let i = 0; i < 101_000; i++) {
      await limiter.hit(rule, 'ip', `flood-${i}`);
      // The throttled subject keeps asking meanwhile (and stays throttled).
      if (i % 1000 === 999) expect((await limiter.hit(rule, 'ip', 'greedy')).allowed).toBe(false);
    }
  });
  it('routes with the same subject do not share a budget', async () => {
    const limiter = new RateLimiter({ clock: new ManualClock() });
    for (let i = 0; i < 3; i++) await limiter.hit(rule, 'principal', 'carol');
    expect((await limiter.hit({ ...rule, name: 'other' }, 'principal', 'carol')).allowed).toBe(
      true,
    );
  });
});

describe('outage fallback rule', () => {
  it.each([
    [
      'one process seen: the whole limit',
      { requestsPerMinute: 600, burst: 100 },
      1,
      { requestsPerMinute: 600, burst: 100 },
    ],
    [
      'four processes: a quarter each',
      { requestsPerMinute: 600, burst: 100 },
      4,
      { requestsPerMinute: 150, burst: 25 },
    ],
    [
      'never below one request',
      { requestsPerMinute: 2, burst: 2 },
      8,
      { requestsPerMinute: 1, burst: 1 },
    ],
    [
      'explicit fallback wins',
      { requestsPerMinute: 600, burst: 100, fallbackRequestsPerMinute: 300 },
      4,
      { requestsPerMinute: 300, burst: 50 },
    ],
  ])('%s', (_name, limits, peers, expected) => {
    expect(new RateLimiter().fallbackOf({ name: 'api', ...limits }, peers)).toEqual(expected);
  });
});
