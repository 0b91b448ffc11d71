/**
 * A JWKS endpoint that was down is fetched again soon, backing off (5 s, 10, 20, then every
 * 30 s), instead of at the next `jwksMaxAgeSec` refresh: `authgate_jwks_up` recovers within
 * 30 s of the endpoint coming back. Driven by the one clock, against a real JWKS server.
 */
import { NOOP_OBSERVER, type AuthObserver } from '../../../src/auth/observer';
import { JWKS_RETRY_MAX_MS, JwksKeySource } from '../../../src/auth/jwks';
import { NOOP_LOGGER } from '../../../src/logging/logger';
import { ecKey, startJwksServer, type JwksServer } from '../../helpers/jwks';
import { ManualClock } from '../../helpers/manual-clock';
import { waitFor } from '../../helpers/wait';

describe('JWKS after a failed fetch', () => {
  let server: JwksServer;
  beforeAll(async () => {
    server = await startJwksServer([ecKey()]);
  });
  afterAll(() => server.close());

  test('retried with backoff, and up again within 30 s of the endpoint coming back', async () => {
    const clock = new ManualClock(0);
    const up: boolean[] = [];
    const observer: AuthObserver = { ...NOOP_OBSERVER, jwksUp: (_i, u) => void up.push(u) };
    const source = new JwksKeySource({
      issuer: 'idp',
      uri: server.url,
      minRefetchIntervalMs: 1000,
      maxAgeMs: 600_000,
      timeoutMs: 2000,
      logger: NOOP_LOGGER,
      observer,
      clock,
    });
    source.start();
    server.down = true;
    server.fetches = 0;
    expect(await source.refresh()).toBe(false);
    const fetchedAt: number[] = [];
    let seen = server.fetches;
    // Two minutes down: attempts at +5 s, +15, +35, +65, +95 (5, 10, 20, 30, 30 apart).
    for (let t = 1000; t <= 120_000; t += 1000) {
      await clock.advance(1000);
      await waitFor(
        'no fetch in flight',
        () => !(source as unknown as { inflight?: unknown }).inflight,
      );
      if (server.fetches > seen) {
        fetchedAt.push(clock.now());
        seen = server.fetches;
      }
    }
    expect(fetchedAt).toEqual([5_000, 15_000, 35_000, 65_000, 95_000]);
    // Back: the next attempt finds it, within the longest backoff.
    server.down = false;
    const back = clock.now();
    while (up.at(-1) !== true) {
      await clock.advance(1000);
      await waitFor(
        'no fetch in flight',
        () => !(source as unknown as { inflight?: unknown }).inflight,
      );
      expect(clock.now() - back).toBeLessThanOrEqual(JWKS_RETRY_MAX_MS);
    }
    expect(source.ready).toBe(true);
    // Healthy again: no more retries, only the maxAge refresh.
    const after = server.fetches;
    await clock.advance(120_000);
    expect(server.fetches).toBe(after);
    source.stop();
  });
});
