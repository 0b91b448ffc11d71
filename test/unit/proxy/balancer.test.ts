import fc from 'fast-check';
import type { Dispatcher } from 'undici';
import { NOOP_LOGGER, type Logger } from '../../../src/logging/logger';
import {
  LEAVE_OUT_MAX_MS,
  LEAVE_OUT_MS,
  UpstreamSet,
  isResolvedName,
  type Resolve,
} from '../../../src/proxy/balancer';
import { parseUpstream } from '../../../src/routes/route-table';
import { ManualClock } from '../../helpers/manual-clock';

function setOf(
  urls: string[],
  options: { resolve?: Resolve; clock?: ManualClock; logger?: Logger } = {},
): { set: UpstreamSet; clock: ManualClock; released: string[] } {
  const clock = options.clock ?? new ManualClock(1_000_000);
  const released: string[] = [];
  const set = new UpstreamSet({
    route: 'r',
    upstreams: urls.map(parseUpstream),
    // The dispatcher is never called here: the set only chooses.
    dispatcherFor: () => ({}) as Dispatcher,
    release: (_u, address) => released.push(address),
    clock,
    resolve: options.resolve ?? (() => Promise.reject(new Error('no dns in this test'))),
    refreshMs: 30_000,
    logger: options.logger ?? NOOP_LOGGER,
  });
  return { set, clock, released };
}

const label = (set: UpstreamSet): string => {
  const t = set.pick();
  return `${t.address ?? t.upstream.hostname}:${t.upstream.port}`;
};

describe('UpstreamSet', () => {
  test('round-robin over every upstream', () => {
    const { set } = setOf(['http://10.0.0.1:80', 'http://10.0.0.2:80', 'http://10.0.0.3:80']);
    const picks = Array.from({ length: 6 }, () => label(set));
    expect(picks).toEqual([
      '10.0.0.1:80',
      '10.0.0.2:80',
      '10.0.0.3:80',
      '10.0.0.1:80',
      '10.0.0.2:80',
      '10.0.0.3:80',
    ]);
  });

  test('an address that refused is left out, then comes back after LEAVE_OUT_MS', async () => {
    const { set, clock } = setOf(['http://10.0.0.1:80', 'http://10.0.0.2:80']);
    const first = set.pick();
    expect(set.refused(first)).toBe(true);
    expect(new Set(Array.from({ length: 4 }, () => label(set)))).toEqual(new Set(['10.0.0.2:80']));
    await clock.advance(LEAVE_OUT_MS);
    expect(new Set(Array.from({ length: 4 }, () => label(set)))).toEqual(
      new Set(['10.0.0.1:80', '10.0.0.2:80']),
    );
  });

  test('leaving out doubles while an address keeps refusing, up to the maximum, and resets when it answers', async () => {
    const { set, clock } = setOf(['http://10.0.0.1:80', 'http://10.0.0.2:80']);
    const a = set.pick();
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      set.refused(a);
      let waited = 0;
      while (set.pick() !== a) {
        await clock.advance(1_000);
        waited += 1_000;
      }
      waits.push(waited);
    }
    expect(waits).toEqual([5_000, 10_000, 20_000, 40_000, 60_000, 60_000]);
    expect(Math.max(...waits)).toBe(LEAVE_OUT_MAX_MS);
    set.answered(a);
    set.refused(a);
    let waited = 0;
    while (set.pick() !== a) {
      await clock.advance(1_000);
      waited += 1_000;
    }
    expect(waited).toBe(LEAVE_OUT_MS);
  });

  test('with every address out, the one back first is tried; refused() says no other is left', () => {
    const { set, clock } = setOf(['http://10.0.0.1:80', 'http://10.0.0.2:80']);
    const a = set.pick();
    const b = set.pick();
    expect(set.refused(a)).toBe(true);
    void clock.advance(1);
    expect(set.refused(b)).toBe(false);
    expect(set.pick()).toBe(a);
  });

  test('a single upstream is never left out', () => {
    const { set } = setOf(['http://10.0.0.1:80']);
    const a = set.pick();
    expect(set.refused(a)).toBe(false);
    expect(set.pick()).toBe(a);
  });

  test('a name is resolved to its addresses, each balanced, with the name kept for Host and TLS', async () => {
    const { set } = setOf(['https://svc.internal:8443/base'], {
      resolve: async () => ['10.1.0.1', '10.1.0.2'],
    });
    await set.refresh();
    expect(set.targets).toEqual(['10.1.0.1:8443', '10.1.0.2:8443']);
    const t = set.pick();
    expect(t.upstream.hostname).toBe('svc.internal');
    expect(t.upstream.host).toBe('svc.internal:8443');
  });

  test('resolved again: addresses that left are released, the others keep their state', async () => {
    let answer = ['10.1.0.1', '10.1.0.2'];
    const { set, released, clock } = setOf(['http://svc.internal:80'], {
      resolve: async () => answer,
    });
    await set.refresh();
    const one = set.pick();
    expect(one.address).toBe('10.1.0.1');
    set.refused(one);
    answer = ['10.1.0.1', '10.1.0.3'];
    await set.refresh();
    expect(set.targets).toEqual(['10.1.0.1:80', '10.1.0.3:80']);
    expect(released).toEqual(['10.1.0.2']);
    // 10.1.0.1 is still out (its state was kept across the new answer).
    await clock.advance(LEAVE_OUT_MS - 1_000);
    const picks = new Set(Array.from({ length: 4 }, () => set.pick().address));
    expect(picks).toEqual(new Set(['10.1.0.3']));
  });

  test('names are resolved again every refreshMs on the clock', async () => {
    let answer = ['10.1.0.1'];
    const { set, clock } = setOf(['http://svc.internal:80'], { resolve: async () => answer });
    await set.refresh();
    answer = ['10.1.0.7', '10.1.0.8'];
    await clock.advance(29_000);
    expect(set.targets).toEqual(['10.1.0.1:80']);
    await clock.advance(1_000);
    expect(set.targets).toEqual(['10.1.0.7:80', '10.1.0.8:80']);
    set.stop();
  });

  test('a failed resolution keeps the addresses known before, and says so', async () => {
    let fail = false;
    const warned: string[] = [];
    const logger: Logger = { ...NOOP_LOGGER, warn: (m) => void warned.push(m) };
    const { set } = setOf(['http://svc.internal:80'], {
      resolve: async () => {
        if (fail) throw Object.assign(new Error('nx'), { code: 'ENOTFOUND' });
        return ['10.1.0.1'];
      },
      logger,
    });
    await set.refresh();
    fail = true;
    await set.refresh();
    expect(set.targets).toEqual(['10.1.0.1:80']);
    expect(warned).toContain('upstream name not resolved');
  });

  test.each([
    ['10.0.0.1', false],
    ['::1', false],
    ['localhost', false],
    ['LOCALHOST', false],
    ['mlflow', true],
    ['svc.ns.svc.cluster.local', true],
  ])('isResolvedName(%s) = %s', (host, expected) => {
    expect(isResolvedName(host)).toBe(expected);
  });

  test('property: with k of n addresses left out, picks cycle over exactly the other n-k', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 2, max: 8 })
          .chain((n) =>
            fc.tuple(fc.constant(n), fc.subarray(Array.from({ length: n }, (_, i) => i))),
          ),
        ([n, out]) => {
          const urls = Array.from({ length: n }, (_, i) => `http://10.0.0.${i + 1}:80`);
          const { set } = setOf(urls);
          const byIndex = Array.from({ length: n }, () => set.pick());
          for (const i of out) set.refused(byIndex[i]!);
          const picks = Array.from({ length: 3 * n }, () => set.pick());
          if (out.length === n) return picks.every((p) => byIndex.includes(p));
          const inService = byIndex.filter((_, i) => !out.includes(i));
          const counts = inService.map((t) => picks.filter((p) => p === t).length);
          return (
            picks.every((p) => inService.includes(p)) &&
            Math.max(...counts) - Math.min(...counts) <= 1
          );
        },
      ),
    );
  });
});
