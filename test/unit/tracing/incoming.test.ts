import fc from 'fast-check';
import { incomingTrace } from '../../../src/tracing/tracing';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

describe('incomingTrace', () => {
  test.each<[string, string[], unknown]>([
    [
      'a sampled traceparent',
      ['traceparent', `00-${TRACE}-${SPAN}-01`],
      { traceId: TRACE, spanId: SPAN, sampled: true, source: 'traceparent' },
    ],
    [
      'an unsampled traceparent',
      ['traceparent', `00-${TRACE}-${SPAN}-00`],
      { traceId: TRACE, sampled: false },
    ],
    [
      'with tracestate',
      ['traceparent', `00-${TRACE}-${SPAN}-01`, 'tracestate', 'a=1,b=2'],
      { tracestate: 'a=1,b=2' },
    ],
    [
      'a header name in another case',
      ['TraceParent', `00-${TRACE}-${SPAN}-01`],
      { traceId: TRACE },
    ],
    [
      'the ALB: Root, Parent and Sampled',
      [
        'X-Amzn-Trace-Id',
        'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
      ],
      {
        traceId: '5759e988bd862e3fe1be46a994272793',
        spanId: '53995c3f42cd8ad8',
        sampled: true,
        source: 'x-amzn-trace-id',
      },
    ],
    [
      'the ALB without a decision',
      ['X-Amzn-Trace-Id', 'Root=1-5759e988-bd862e3fe1be46a994272793'],
      { sampled: undefined, spanId: undefined },
    ],
    [
      'the ALB, Self= first',
      [
        'X-Amzn-Trace-Id',
        'Self=1-67891234-12456789abcdef012345678;Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0',
      ],
      { traceId: '5759e988bd862e3fe1be46a994272793', sampled: false },
    ],
    [
      'traceparent wins over the ALB',
      [
        'X-Amzn-Trace-Id',
        'Root=1-5759e988-bd862e3fe1be46a994272793',
        'traceparent',
        `00-${TRACE}-${SPAN}-01`,
      ],
      { traceId: TRACE },
    ],
    [
      'a malformed traceparent falls back to the ALB',
      ['traceparent', 'garbage', 'X-Amzn-Trace-Id', 'Root=1-5759e988-bd862e3fe1be46a994272793'],
      { source: 'x-amzn-trace-id' },
    ],
  ])('%s', (_what, raw, expected) => {
    expect(incomingTrace(raw)).toMatchObject(expected as object);
  });

  test.each<[string, string[]]>([
    ['nothing', []],
    ['an all-zero trace id', ['traceparent', `00-${'0'.repeat(32)}-${SPAN}-01`]],
    ['an all-zero span id', ['traceparent', `00-${TRACE}-${'0'.repeat(16)}-01`]],
    ['version ff', ['traceparent', `ff-${TRACE}-${SPAN}-01`]],
    ['a short trace id', ['traceparent', `00-${TRACE.slice(1)}-${SPAN}-01`]],
    [
      'an ALB Root of another version',
      ['X-Amzn-Trace-Id', 'Root=2-5759e988-bd862e3fe1be46a994272793'],
    ],
    ['an ALB Root too short', ['X-Amzn-Trace-Id', 'Root=1-5759e988-bd862e3fe1be46a99427279']],
    ['an all-zero ALB Root', ['X-Amzn-Trace-Id', `Root=1-00000000-${'0'.repeat(24)}`]],
  ])('%s: no trace to continue', (_what, raw) => {
    expect(incomingTrace(raw)).toBeUndefined();
  });

  test('never throws, and what it continues is a valid W3C trace', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.constantFrom('traceparent', 'tracestate', 'X-Amzn-Trace-Id', 'x-other'),
            fc.oneof(
              fc.string(),
              fc.stringMatching(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/),
              fc.stringMatching(
                /^Root=1-[0-9a-f]{8}-[0-9a-f]{24}(;Parent=[0-9a-f]{16})?(;Sampled=[01])?$/,
              ),
            ),
          ),
          { maxLength: 4 },
        ),
        (pairs) => {
          const found = incomingTrace(pairs.flat());
          if (found === undefined) return;
          expect(found.traceId).toMatch(/^[0-9a-f]{32}$/);
          expect(found.traceId).not.toMatch(/^0+$/);
          if (found.spanId !== undefined) expect(found.spanId).toMatch(/^[0-9a-f]{16}$/);
        },
      ),
    );
  });
});
