/**
 * The request-duration and token-validation histograms keep their counts in series bound once per
 * label set. A scrape must read exactly what prom-client's own Histogram gives for the same
 * observations: the text exposition and the JSON the `--workers` primary aggregates.
 */
import fc from 'fast-check';
import { AggregatorRegistry, Histogram, Registry } from 'prom-client';
import { LocalHistogram } from '../../src/local-histogram';
import { AUTH_BUCKETS, REQUEST_BUCKETS } from '../../src/metrics';

const NAME = 'authgate_test_duration_seconds';

function pair(buckets: number[]) {
  const ours = new Registry();
  const theirs = new Registry();
  const config = { name: NAME, help: 'Test.', labelNames: ['route', 'method'] as const, buckets };
  const local = new LocalHistogram({ ...config, registers: [ours] });
  const reference = new Histogram({ ...config, registers: [theirs] });
  return { ours, theirs, local, reference };
}

const observation = fc.record({
  route: fc.constantFrom('api', 'mlflow', 'a"quote\\back'),
  method: fc.constantFrom('GET', 'POST'),
  value: fc.oneof(
    fc.double({ min: 0, max: 700, noNaN: true }),
    fc.constantFrom(...REQUEST_BUCKETS, ...AUTH_BUCKETS, 0, 601, 1e9),
  ),
});

describe('LocalHistogram', () => {
  it.each([
    ['request buckets', REQUEST_BUCKETS],
    ['auth buckets', AUTH_BUCKETS],
  ])(
    'reads as prom-client Histogram in text and JSON, for any observations (%s, property)',
    async (_, buckets) => {
      await fc.assert(
        fc.asyncProperty(fc.array(observation, { maxLength: 50 }), async (observations) => {
          const { ours, theirs, local, reference } = pair([...buckets]);
          for (const o of observations) {
            local.bind({ route: o.route, method: o.method }).observe(o.value);
            reference.labels(o.route, o.method).observe(o.value);
          }
          expect(await ours.metrics()).toBe(await theirs.metrics());
          expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
        }),
        { numRuns: 50 },
      );
    },
  );

  it('aggregates across workers as prom-client does', async () => {
    const a = pair(REQUEST_BUCKETS);
    const b = pair(REQUEST_BUCKETS);
    for (const [h, v] of [
      [a, 0.002],
      [a, 3],
      [b, 0.002],
      [b, 700],
    ] as const) {
      h.local.bind({ route: 'api', method: 'GET' }).observe(v);
      h.reference.labels('api', 'GET').observe(v);
    }
    const ours = AggregatorRegistry.aggregate([
      await a.ours.getMetricsAsJSON(),
      await b.ours.getMetricsAsJSON(),
    ]);
    const theirs = AggregatorRegistry.aggregate([
      await a.theirs.getMetricsAsJSON(),
      await b.theirs.getMetricsAsJSON(),
    ]);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.metrics()).toContain(`${NAME}_count{route="api",method="GET"} 4`);
  });

  it.each([NaN, Infinity, -Infinity])('refuses %p as prom-client does', (value) => {
    const { local, reference } = pair(REQUEST_BUCKETS);
    expect(() => reference.labels('api', 'GET').observe(value)).toThrow(TypeError);
    expect(() => local.bind({ route: 'api', method: 'GET' }).observe(value)).toThrow(TypeError);
  });

  it('refuses a label it was not declared with', () => {
    const { local } = pair(REQUEST_BUCKETS);
    expect(() =>
      local.bind({ route: 'api', method: 'GET', tenant: 't' } as { route: string; method: string }),
    ).toThrow(/not included/);
  });

  it('a bound series is counted from its first observation, and reset() empties it', async () => {
    const { ours, local } = pair(REQUEST_BUCKETS);
    const series = local.bind({ route: 'api', method: 'GET' });
    expect(await ours.metrics()).not.toContain(`${NAME}_count`);
    series.observe(0.01);
    expect(await ours.metrics()).toContain(`${NAME}_count{route="api",method="GET"} 1`);
    local.reset();
    expect(await ours.metrics()).not.toContain(`${NAME}_count`);
  });
});
