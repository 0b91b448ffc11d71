/**
 * Request body framing: exactly one Content-Length (repeats agreeing) or exactly
 * `Transfer-Encoding: chunked` alone; everything else is a typed 400 with its own reason.
 */
import fc from 'fast-check';
import { AuthgateError } from '../../../src/errors';
import { hasBody, requestFraming, type BodyFraming } from '../../../src/headers/framing';

function decide(raw: string[]): BodyFraming | { refused: string; message: string } {
  try {
    return requestFraming(raw);
  } catch (e) {
    const err = e as AuthgateError;
    expect(err.code).toBe('BAD_REQUEST');
    return { refused: err.reason, message: err.message };
  }
}
const refused = (reason: string, message: string) => ({ refused: reason, message });
const BAD_LENGTH = refused('bad_length', 'Content-Length is not a number.');
const CONFLICT = refused('conflicting_length', 'Conflicting Content-Length headers.');
const DUP_TE = refused('duplicate_te', 'Only one Transfer-Encoding header is allowed.');
const BAD_TE = refused('unsupported_te', 'Only "Transfer-Encoding: chunked" is supported.');
const AMBIGUOUS = refused(
  'ambiguous_framing',
  'Content-Length and Transfer-Encoding must not be combined.',
);

describe('requestFraming', () => {
  it.each<[string, string[], ReturnType<typeof decide>]>([
    ['no framing headers', ['Host', 'h'], { kind: 'none' }],
    ['Content-Length: 0 is no body', ['Content-Length', '0'], { kind: 'none' }],
    ['Content-Length: 5', ['Content-Length', '5'], { kind: 'length', length: 5 }],
    ['name in any case', ['cOnTeNt-LeNgTh', '7'], { kind: 'length', length: 7 }],
    ['value with spaces around', ['Content-Length', '  12 '], { kind: 'length', length: 12 }],
    ['leading zeros', ['Content-Length', '007'], { kind: 'length', length: 7 }],
    [
      '15 digits',
      ['Content-Length', '999999999999999'],
      { kind: 'length', length: 999999999999999 },
    ],
    ['16 digits', ['Content-Length', '1000000000000000'], BAD_LENGTH],
    [
      'repeated, agreeing',
      ['Content-Length', '5', 'Content-Length', '5'],
      { kind: 'length', length: 5 },
    ],
    [
      'repeated, agreeing with leading zeros',
      ['Content-Length', '5', 'Content-Length', '05'],
      { kind: 'length', length: 5 },
    ],
    ['a list, agreeing', ['Content-Length', '5, 5'], { kind: 'length', length: 5 }],
    ['repeated, conflicting', ['Content-Length', '5', 'Content-Length', '6'], CONFLICT],
    ['a list, conflicting', ['Content-Length', '5,6'], CONFLICT],
    ['empty', ['Content-Length', ''], BAD_LENGTH],
    ['negative', ['Content-Length', '-1'], BAD_LENGTH],
    ['a sign', ['Content-Length', '+1'], BAD_LENGTH],
    ['hex', ['Content-Length', '0x10'], BAD_LENGTH],
    ['a fraction', ['Content-Length', '1.5'], BAD_LENGTH],
    ['a trailing letter', ['Content-Length', '5a'], BAD_LENGTH],
    ['an empty list member', ['Content-Length', '5,'], BAD_LENGTH],
    ['chunked', ['Transfer-Encoding', 'chunked'], { kind: 'chunked' }],
    ['chunked in any case, spaced', ['transfer-encoding', ' Chunked '], { kind: 'chunked' }],
    [
      'two Transfer-Encoding headers',
      ['Transfer-Encoding', 'chunked', 'Transfer-Encoding', 'chunked'],
      DUP_TE,
    ],
    ['gzip, chunked', ['Transfer-Encoding', 'gzip, chunked'], BAD_TE],
    ['identity', ['Transfer-Encoding', 'identity'], BAD_TE],
    ['empty Transfer-Encoding', ['Transfer-Encoding', ''], BAD_TE],
    [
      'chunked with Content-Length',
      ['Transfer-Encoding', 'chunked', 'Content-Length', '5'],
      AMBIGUOUS,
    ],
    [
      'Content-Length then chunked',
      ['Content-Length', '0', 'Transfer-Encoding', 'chunked'],
      AMBIGUOUS,
    ],
    [
      'other headers of the same lengths are ignored',
      ['X-Content-Length', '5', 'X-Transfer-Encodin', 'gzip'],
      { kind: 'none' },
    ],
    ['a 14-letter name that is not Content-Length', ['Content-Lengtx', 'abc'], { kind: 'none' }],
    [
      'a 17-letter name that is not Transfer-Encoding',
      ['Transfer-Encodinx', 'gzip'],
      { kind: 'none' },
    ],
  ])('%s', (_name, raw, expected) => {
    expect(decide(raw)).toEqual(expected);
  });

  it('a valid length is read as the number it spells (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), (n) => {
        const text = String(n);
        const expected = text.length <= 15 ? { kind: 'length', length: n } : BAD_LENGTH;
        expect(decide(['Content-Length', text])).toEqual(expected);
      }),
    );
  });

  it('any value other than digits is refused (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !/^[\d\s,]+$/.test(s)),
        (v) => {
          expect(decide(['Content-Length', v])).toEqual(BAD_LENGTH);
        },
      ),
    );
  });
});

describe('hasBody', () => {
  it.each<[BodyFraming, boolean]>([
    [{ kind: 'none' }, false],
    [{ kind: 'chunked' }, true],
    [{ kind: 'length', length: 1 }, true],
  ])('%j → %s', (framing, expected) => {
    expect(hasBody(framing)).toBe(expected);
  });
});
