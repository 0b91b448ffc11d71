import fc from 'fast-check';
import { FailedAuthGuard, failureKey } from '../../../src/auth/failed-auth-guard';

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

describe('failureKey: IPv6 clients are counted per network', () => {
  it.each([
    ['198.51.100.7', 64, '198.51.100.7'],
    ['2001:db8:1:2::1', 64, '2001:db8:1:2:0:0:0:0/64'],
    ['2001:db8:1:2:ffff:ffff:ffff:ffff', 64, '2001:db8:1:2:0:0:0:0/64'],
    ['2001:0db8:0001:0002:0:0:0:9', 64, '2001:db8:1:2:0:0:0:0/64'],
    ['2001:db8:1:3::1', 64, '2001:db8:1:3:0:0:0:0/64'],
    ['2001:db8:1:2::1', 48, '2001:db8:1:0:0:0:0:0/48'],
    ['2001:db8:1:2::1', 56, '2001:db8:1:0:0:0:0:0/56'],
    ['2001:db8:1:2ff::1', 56, '2001:db8:1:200:0:0:0:0/56'],
    ['2001:db8::1', 128, '2001:db8::1'],
    ['::1', 64, '0:0:0:0:0:0:0:0/64'],
    ['::ffff:1.2.3.4', 96, '0:0:0:0:0:ffff:0:0/96'],
    ['fe80::1%eth0', 64, 'fe80:0:0:0:0:0:0:0/64'],
  ])('%s /%d → %s', (address, prefix, key) => {
    expect(failureKey(address, prefix)).toBe(key);
  });

  it('property: two addresses share a key exactly when their first 64 bits agree', () => {
    const group = fc.integer({ min: 0, max: 0xffff });
    const address = fc.array(group, { minLength: 8, maxLength: 8 });
    fc.assert(
      fc.property(address, address, (a, b) => {
        const text = (g: number[]) => g.map((x) => x.toString(16)).join(':');
        const same = a.slice(0, 4).every((x, i) => x === b[i]);
        expect(failureKey(text(a), 64) === failureKey(text(b), 64)).toBe(same);
      }),
    );
  });

  it('30 guesses from one /64 are throttled after maxFailures, another /64 is not', async () => {
    const guard = new FailedAuthGuard({ maxFailures: 5, windowSec: 60 }, undefined, () => 0);
    const statuses: number[] = [];
    for (let i = 1; i <= 30; i++) {
      const address = `2001:db8:1:2::${i.toString(16)}`;
      try {
        guard.check(address);
        await guard.recordFailure(address);
        statuses.push(401);
      } catch {
        statuses.push(429);
      }
    }
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(() => guard.check('2001:db8:1:3::1')).not.toThrow();
  });

  it('a flood of new addresses does not wipe the counters of the oldest blocked one at once', async () => {
    const guard = new FailedAuthGuard({ maxFailures: 2, windowSec: 60 }, undefined, () => 0);
    for (let i = 0; i < 2; i++) await guard.recordFailure('198.51.100.1');
    // More distinct addresses than the guard tracks; the blocked client keeps trying meanwhile.
    for (let i = 0; i < 101_000; i++) {
      await guard.recordFailure(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
      if (i % 1000 === 999) expect(() => guard.check('198.51.100.1')).toThrow(/Too many failed/);
    }
  });
});
