import { Tracing } from '../../../src/tracing/tracing';

const config = {
  otlpEndpoint: 'http://127.0.0.1:9/v1/traces',
  serviceName: 'authgate',
  propagate: 'passthrough' as const,
  exportDelayMs: 60_000,
  maxQueueSize: 16,
};

describe('sampling, decided once per request', () => {
  test('a new trace is recorded with sampleRatio', async () => {
    const draws = [0.1, 0.3, 0.2, 0.9, 0.249, 0.25];
    const tracing = new Tracing(
      { ...config, sampleRatio: 0.25 },
      { version: 't', random: () => draws.shift()! },
    );
    const recorded = Array.from(
      { length: 6 },
      () => tracing.startRequest([], 'GET', {}) !== undefined,
    );
    expect(recorded).toEqual([true, false, true, false, true, false]);
    await tracing.shutdown();
  });

  test("the caller's decision wins over the ratio, both ways", async () => {
    const never = new Tracing({ ...config, sampleRatio: 0 }, { version: 't', random: () => 0 });
    const always = new Tracing({ ...config, sampleRatio: 1 }, { version: 't', random: () => 0 });
    const parent = (flags: string) => [
      'traceparent',
      `00-${'1'.repeat(32)}-${'2'.repeat(16)}-${flags}`,
    ];
    const followed = never.startRequest(parent('01'), 'GET', {});
    expect(followed?.traceId).toBe('1'.repeat(32));
    expect(followed?.span.isRecording()).toBe(true);
    expect(always.startRequest(parent('00'), 'GET', {})).toBeUndefined();
    // An ALB trace without a decision is drawn like a new one.
    const alb = ['X-Amzn-Trace-Id', 'Root=1-5759e988-bd862e3fe1be46a994272793'];
    expect(never.startRequest(alb, 'GET', {})).toBeUndefined();
    expect(always.startRequest(alb, 'GET', {})?.traceId).toBe('5759e988bd862e3fe1be46a994272793');
    await never.shutdown();
    await always.shutdown();
  });
});
