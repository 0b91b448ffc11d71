/** Log output to stdout: whole lines, at most PIPE_BUF bytes a write, a longer line alone. */
import fc from 'fast-check';
import { ATOMIC_WRITE_BYTES, atomicChunks } from '../../../src/logging/stdout';

const line = (n: number, ch = 'x') => `${ch.repeat(n - 1)}\n`;
const sizes = (text: string) => atomicChunks(text).map((c) => c.length);

describe('atomicChunks', () => {
  it.each<[string, string, number[]]>([
    ['nothing', '', []],
    ['one short line', line(100), [100]],
    ['lines that fit one write', line(1000).repeat(3), [3000]],
    ['exactly 4096 bytes', line(2048).repeat(2), [4096]],
    ['one byte over: two writes', line(2048) + line(2049), [2048, 2049]],
    ['a long line alone, between short ones', line(100) + line(6000) + line(100), [100, 6000, 100]],
    ['a long line last', line(100) + line(5000), [100, 5000]],
    ['multi-byte characters counted as bytes', line(1500, 'é').repeat(3), [2999, 2999, 2999]],
  ])('%s', (_name, text, expected) => {
    expect(sizes(text)).toEqual(expected);
  });

  it('whole lines, in order, greedy, never over the limit but for a single long line (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 9000 }), { maxLength: 30 }), (lengths) => {
        const text = lengths.map((n) => line(n)).join('');
        const chunks = atomicChunks(text);
        expect(Buffer.concat(chunks).toString()).toBe(text);
        for (const [i, c] of chunks.entries()) {
          expect(c[c.length - 1]).toBe(10);
          const lines = c.toString().split('\n').length - 1;
          if (lines > 1) expect(c.length).toBeLessThanOrEqual(ATOMIC_WRITE_BYTES);
          const next = chunks[i + 1];
          if (next && c.length <= ATOMIC_WRITE_BYTES) {
            const firstOfNext = next.indexOf(10) + 1;
            expect(c.length + firstOfNext).toBeGreaterThan(ATOMIC_WRITE_BYTES);
          }
        }
      }),
    );
  });
});
