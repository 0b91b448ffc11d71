import fc from 'fast-check';
import { dispatchHeaders } from '../../../src/proxy/forward';

describe('dispatchHeaders: the request headers as undici takes them', () => {
  const cases: Array<[string, string[], string[]]> = [
    ['nothing to drop: the same list', ['Host', 'h', 'X-A', '1'], ['Host', 'h', 'X-A', '1']],
    [
      "Transfer-Encoding is undici's to write",
      ['Host', 'h', 'Transfer-Encoding', 'chunked', 'X-A', '1'],
      ['Host', 'h', 'X-A', '1'],
    ],
    ['Expect ends at authgate', ['expect', '100-continue', 'X-A', '1'], ['X-A', '1']],
    [
      'an agreeing repeat of Content-Length goes, the first stays',
      ['Content-Length', '5', 'X-A', '1', 'content-length', '5'],
      ['Content-Length', '5', 'X-A', '1'],
    ],
    [
      'an agreeing list in one Content-Length becomes one value',
      ['Content-Length', '5, 5', 'X-A', '1'],
      ['Content-Length', '5', 'X-A', '1'],
    ],
    [
      'names of the same lengths that are not framing stay',
      ['X-Expct', 'a', 'X-Content-Lengt', 'b', 'X-Transfer-Encodin', 'c', 'Accept', 'd'],
      ['X-Expct', 'a', 'X-Content-Lengt', 'b', 'X-Transfer-Encodin', 'c', 'Accept', 'd'],
    ],
  ];
  it.each(cases)('%s', (_name, input, want) => {
    expect(dispatchHeaders(input)).toEqual(want);
  });

  it('property: keeps every other pair, in order, and never changes its input', () => {
    const name = fc.oneof(
      fc.constantFrom('Expect', 'Transfer-Encoding', 'Content-Length', 'CONTENT-LENGTH', 'Host'),
      fc.stringMatching(/^[A-Za-z-]{1,18}$/),
    );
    fc.assert(
      fc.property(
        // Values without commas (an agreeing list is the table case above).
        fc.array(fc.tuple(name, fc.stringMatching(/^[^,]{0,8}$/)), { maxLength: 12 }),
        (ps) => {
          const input = ps.flat();
          const copy = [...input];
          const out = dispatchHeaders(input);
          expect(input).toEqual(copy);
          let sawLength = false;
          const want = ps
            .filter(([n]) => {
              const l = n.toLowerCase();
              if (l === 'expect' || l === 'transfer-encoding') return false;
              if (l === 'content-length') {
                if (sawLength) return false;
                sawLength = true;
              }
              return true;
            })
            .flat();
          expect(out).toEqual(want);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
