/**
 * The request id: one sane client X-Request-ID is kept; otherwise the Root of the ALB's
 * X-Amzn-Trace-Id; otherwise a new UUID.
 */
import fc from 'fast-check';
import { decideRequestId, isSaneRequestId, traceRoot } from '../../../src/headers/request-id';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ROOT = '1-5759e988-bd862e3fe1be46a994272793';

describe('isSaneRequestId', () => {
  it.each<[string, boolean]>([
    ['abc', true],
    ['A-Z.a_z:0-9', true],
    ['x'.repeat(128), true],
    ['x'.repeat(129), false],
    ['', false],
    ['has space', false],
    ['semi;colon', false],
    ['new\nline', false],
    ['ünïcode', false],
    ['slash/', false],
  ])('%j → %s', (value, expected) => {
    expect(isSaneRequestId(value)).toBe(expected);
  });
});

describe('traceRoot', () => {
  it.each<[string, string[], string | undefined]>([
    ['no trace header', [], undefined],
    ['Root alone', ['X-Amzn-Trace-Id', `Root=${ROOT}`], ROOT],
    [
      'Root among fields, spaced',
      ['x-amzn-trace-id', `Self=1-abc; Root = ${ROOT};Sampled=1`],
      ROOT,
    ],
    ['no Root field', ['X-Amzn-Trace-Id', 'Self=1-abc'], undefined],
    ['a field named like Root', ['X-Amzn-Trace-Id', `Rooted=${ROOT}`], undefined],
    ['a field without =', ['X-Amzn-Trace-Id', `Root;Root=${ROOT}`], ROOT],
    ['an insane Root', ['X-Amzn-Trace-Id', 'Root=has space'], undefined],
    ['an empty Root', ['X-Amzn-Trace-Id', 'Root='], undefined],
    [
      'two trace headers',
      ['X-Amzn-Trace-Id', `Root=${ROOT}`, 'X-Amzn-Trace-Id', 'Root=2'],
      undefined,
    ],
  ])('%s', (_name, raw, expected) => {
    expect(traceRoot(raw)).toBe(expected);
  });
});

describe('decideRequestId', () => {
  it.each<[string, string[], { requestId: string | RegExp; kept: boolean }]>([
    ['one sane id is kept', ['X-Request-ID', 'abc-123'], { requestId: 'abc-123', kept: true }],
    ['name in any case', ['x-request-id', 'r1'], { requestId: 'r1', kept: true }],
    [
      'kept even beside a trace id',
      ['X-Request-ID', 'r1', 'X-Amzn-Trace-Id', `Root=${ROOT}`],
      { requestId: 'r1', kept: true },
    ],
    ['none: a new UUID', [], { requestId: UUID, kept: false }],
    ['insane: a new UUID', ['X-Request-ID', 'a b'], { requestId: UUID, kept: false }],
    [
      'two ids: a new UUID',
      ['X-Request-ID', 'a', 'X-Request-ID', 'b'],
      { requestId: UUID, kept: false },
    ],
    [
      'none, with a trace id: its Root',
      ['X-Amzn-Trace-Id', `Root=${ROOT}`],
      { requestId: ROOT, kept: false },
    ],
    [
      'insane, with a trace id: its Root',
      ['X-Request-ID', '', 'X-Amzn-Trace-Id', `Root=${ROOT}`],
      { requestId: ROOT, kept: false },
    ],
  ])('%s', (_name, raw, expected) => {
    const got = decideRequestId(raw);
    expect(got.kept).toBe(expected.kept);
    if (expected.requestId instanceof RegExp) expect(got.requestId).toMatch(expected.requestId);
    else expect(got.requestId).toBe(expected.requestId);
  });

  it('new ids differ from request to request', () => {
    expect(decideRequestId([]).requestId).not.toBe(decideRequestId([]).requestId);
  });

  it('whatever arrives, the id is sane, and it is the client’s exactly when kept (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 140 }), { maxLength: 3 }), (ids) => {
        const raw = ids.flatMap((v) => ['X-Request-ID', v]);
        const got = decideRequestId(raw);
        expect(isSaneRequestId(got.requestId)).toBe(true);
        const keep = ids.length === 1 && /^[A-Za-z0-9._:-]{1,128}$/.test(ids[0]!);
        expect(got.kept).toBe(keep);
        if (keep) expect(got.requestId).toBe(ids[0]);
      }),
    );
  });
});
