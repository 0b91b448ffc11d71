/**
 * On the request path the counters (requests, decisions, API-key cache lookups) are plain numbers (and the in-flight gauge a
 * plain count), handed to prom-client at scrape time. What a scrape shows must not change: every
 * observation counted once, across any number of scrapes, with the labels it was made with.
 */
import fc from 'fast-check';
import { Metrics } from '../../src/metrics';

const series = (text: string, name: string): Record<string, number> =>
  Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
      .map((l) => {
        const i = l.lastIndexOf(' ');
        return [l.slice(0, i), Number(l.slice(i + 1))];
      }),
  );

describe('metrics on the hot path', () => {
  it('counts every request and decision once, whatever the scrapes in between (property)', async () => {
    const event = fc.record({
      route: fc.constantFrom('api', 'mlflow', 'none'),
      method: fc.constantFrom('GET', 'POST'),
      status: fc.constantFrom(200, 401, 403),
      scrape: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(event, { maxLength: 60 }), async (events) => {
        const m = new Metrics('test');
        const expected: Record<string, number> = {};
        for (const e of events) {
          m.observeRequest(e.route, e.method, e.status, 0.001);
          m.authDecision(e.route, 'jwt', e.status === 200 ? 'allow' : 'deny', 'r');
          const key = `authgate_http_requests_total{route="${e.route}",method="${e.method}",status="${e.status}"}`;
          expected[key] = (expected[key] ?? 0) + 1;
          if (e.scrape) await m.registry.metrics();
        }
        const text = await m.registry.metrics();
        expect(series(text, 'authgate_http_requests_total')).toEqual(expected);
        const decisions = Object.values(series(text, 'authgate_auth_decisions_total'));
        expect(decisions.reduce((a, b) => a + b, 0)).toBe(events.length);
        // A second scrape adds nothing.
        expect(series(await m.registry.metrics(), 'authgate_http_requests_total')).toEqual(
          expected,
        );
      }),
      { numRuns: 60 },
    );
  });

  it('counts every API-key cache lookup once, by layer and result, whatever the scrapes (property)', async () => {
    const lookup = fc.record({
      layer: fc.constantFrom('memory' as const, 'redis' as const),
      result: fc.constantFrom('hit' as const, 'miss' as const, 'negative_hit' as const),
      scrape: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(lookup, { maxLength: 40 }), async (lookups) => {
        const m = new Metrics('test');
        const expected: Record<string, number> = {};
        for (const l of lookups) {
          m.apiKeyCache(l.layer, l.result);
          const key = `authgate_api_key_cache_total{layer="${l.layer}",result="${l.result}"}`;
          expected[key] = (expected[key] ?? 0) + 1;
          if (l.scrape) await m.registry.metrics();
        }
        expect(series(await m.registry.metrics(), 'authgate_api_key_cache_total')).toEqual(
          expected,
        );
        expect(series(await m.registry.metrics(), 'authgate_api_key_cache_total')).toEqual(
          expected,
        );
      }),
      { numRuns: 40 },
    );
  });

  it('reads the in-flight count at scrape time', async () => {
    const m = new Metrics('test');
    m.requestStarted();
    m.requestStarted();
    m.requestFinished();
    expect(series(await m.registry.metrics(), 'authgate_http_requests_in_flight')).toEqual({
      authgate_http_requests_in_flight: 1,
    });
  });
});
