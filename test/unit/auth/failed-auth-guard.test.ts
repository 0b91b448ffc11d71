import { FailedAuthGuard } from '../../../src/auth/failed-auth-guard';

describe('FailedAuthGuard (in process, driven clock)', () => {
  let now = 1_000_000;
  const clock = () => now;

  it('blocks an address past maxFailures until its window ends, with Retry-After', async () => {
    const guard = new FailedAuthGuard({ maxFailures: 3, windowSec: 60 }, undefined, clock);
    now = 60_000 * 100 + 10_000; // 10 s into a window
    for (let i = 0; i < 3; i++) {
      expect(() => guard.check('198.51.100.1')).not.toThrow();
      await guard.recordFailure('198.51.100.1');
    }
    let thrown: unknown;
    try {
      guard.check('198.51.100.1');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toMatchObject({
      code: 'RATE_LIMITED',
      status: 429,
      reason: 'failed_auth_guard',
      headers: { 'Retry-After': '50' },
    });
    expect(() => guard.check('198.51.100.2')).not.toThrow();
    now += 50_000; // the next window
    expect(() => guard.check('198.51.100.1')).not.toThrow();
  });

  it('maxFailures 0 turns it off', async () => {
    const guard = new FailedAuthGuard({ maxFailures: 0, windowSec: 60 }, undefined, clock);
    for (let i = 0; i < 50; i++) await guard.recordFailure('a');
    expect(() => guard.check('a')).not.toThrow();
  });
});
