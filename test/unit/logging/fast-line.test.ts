import { Writable } from 'node:stream';
/**
 * Flat lines (the access and audit line of every request) skip winston's format
 * pipeline. The fast path must write exactly what winston with the masking format writes — the
 * same fields and values, every secret shape masked the same way — for any flat fields.
 */
import fc from 'fast-check';
import { createLogger } from '../../../src/logging/logger';
import { isFlat, jsonNumber } from '../../../src/logging/fast-line';
import { LogCapture } from '../../helpers/servers';

const JWT = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
const rules = { apiKeyPrefixes: ['hok_live_'], queryParams: ['sig'], headers: ['X-Custom'] };

async function lines(fast: boolean, message: string, fields: Record<string, unknown>) {
  const logs = new LogCapture();
  const logger = createLogger({ level: 'info', stream: logs, mask: rules, fastLines: fast });
  logger.info(message, fields);
  logger.flush();
  await new Promise((r) => setImmediate(r));
  return logs.entries().map(({ timestamp, ...rest }) => {
    expect(typeof timestamp).toBe('string');
    return rest;
  });
}

const secretish = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.constantFrom(
    JWT,
    `Bearer ${JWT}`,
    'Basic dXNlcjpwYXNzd29yZA==',
    'hok_live_abcdef0123456789',
    '/api/items?token=s3cr3t&x=1',
    '/cb?sig=abc123&next=/',
    'https://user:pa55@host/path',
    'x'.repeat(5000),
    'line\nbreak "quoted" \\ back',
  ),
  fc
    .tuple(fc.string({ maxLength: 10 }), fc.constantFrom(JWT, 'hok_live_zz99'))
    .map(([a, b]) => `${a} ${b}`),
);
const value = fc.oneof(
  secretish,
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
);

describe('jsonNumber', () => {
  it.each([
    0,
    -0,
    1,
    -1,
    0.001,
    -0.001,
    0.1,
    0.01,
    0.3,
    1.5,
    1.005,
    2.675,
    12.34,
    999.999,
    1e-7,
    1e21,
    2 ** 53,
    123456789.123,
    1e11 + 0.001,
    99999999999.999,
    Number.MAX_VALUE,
    Number.MIN_VALUE,
  ])('writes %p exactly as JSON does', (v) => {
    expect(jsonNumber(v)).toBe(JSON.stringify(v));
  });

  it('writes any millisecond duration (k/1000) exactly as JSON does (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 47), max: 2 ** 47 }), (k) => {
        expect(jsonNumber(k / 1000)).toBe(JSON.stringify(k / 1000));
        const rounded = Math.round((k / 7) * 1000) / 1000;
        expect(jsonNumber(rounded)).toBe(JSON.stringify(rounded));
      }),
      { numRuns: 5000 },
    );
  });

  it('writes any finite double exactly as JSON does (property)', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (v) => {
        expect(jsonNumber(v)).toBe(JSON.stringify(v));
      }),
      { numRuns: 5000 },
    );
  });
});

describe('fast log lines', () => {
  it('a sequence of lines from one logger, values repeating and changing, matches winston line by line (property)', async () => {
    // One logger for the whole sequence: a value repeated from the line before is written from
    // the slot's memo, a changed one is scrubbed afresh — both must read as winston writes them.
    const pool = fc.constantFrom(
      '/a',
      '/a',
      JWT,
      `Bearer ${JWT}`,
      'hok_live_abcdef0123456789',
      'ok',
    );
    const entry = fc.record({
      path: pool,
      user_id: pool,
      reason: pool,
      status: fc.constantFrom(200, 401),
    });
    const run = async (fast: boolean, entries: Array<Record<string, unknown>>) => {
      const logs = new LogCapture();
      const logger = createLogger({ level: 'info', stream: logs, mask: rules, fastLines: fast });
      for (const fields of entries) logger.info('request', { type: 'access', ...fields });
      logger.flush();
      await new Promise((r) => setImmediate(r));
      return logs.entries().map(({ timestamp: _t, ...rest }) => rest);
    };
    await fc.assert(
      fc.asyncProperty(fc.array(entry, { minLength: 2, maxLength: 12 }), async (entries) => {
        expect(await run(true, entries)).toEqual(await run(false, entries));
      }),
      { numRuns: 100 },
    );
  });

  it('write exactly what winston with the masking format writes (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(
          fc.constantFrom(
            'path',
            'user_id',
            'request_id',
            'reason',
            'status',
            'note',
            'authorization',
            'x-custom',
            'type',
          ),
          value,
        ),
        // Messages are fixed strings in the code; winston would read "%s"-style tokens in one as
        // a format and drop the fields, the fast path keeps them.
        secretish.filter((m) => !m.includes('%')),
        async (fields, message) => {
          expect(isFlat(fields)).toBe(true);
          expect(await lines(true, message, fields)).toEqual(await lines(false, message, fields));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('mask a JWT, an API key and a query token in an access line', async () => {
    const [line] = await lines(true, 'request', {
      type: 'access',
      path: `/api/${JWT}`,
      user_id: 'hok_live_abcdef0123456789',
      reason: '/x?token=s3cr3t',
      status: 200,
    });
    const text = JSON.stringify(line);
    expect(text).not.toContain(JWT);
    expect(text).not.toContain('hok_live_abcdef0123456789');
    expect(text).not.toContain('s3cr3t');
    expect(line).toMatchObject({
      level: 'info',
      message: 'request',
      service: 'authgate',
      status: 200,
      request_id: null,
    });
  });

  it('leave nested values to winston and its deep masker', () => {
    expect(isFlat({ a: 1, b: 'x', c: null, d: undefined, e: true })).toBe(true);
    expect(isFlat({ headers: ['Authorization', 'Bearer x'] })).toBe(false);
    expect(isFlat({ err: new Error('x') })).toBe(false);
    expect(isFlat({ n: Number.NaN })).toBe(false);
  });

  it('batch the lines of one event-loop turn into one write, in order', async () => {
    const writes: string[] = [];
    const logs = new LogCapture();
    const original = logs.write.bind(logs);
    logs.write = ((chunk: string) => {
      writes.push(String(chunk));
      return original(chunk);
    }) as typeof logs.write;
    const logger = createLogger({ level: 'info', stream: logs, batchLines: true });
    for (let i = 0; i < 5; i++) logger.info('request', { type: 'access', status: 200, i });
    expect(writes).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(writes).toHaveLength(1);
    // A line that goes through winston first writes the batch pending before it.
    logger.info('request', { type: 'access', i: 5 });
    logger.warn('nested', { details: { a: 1 } });
    await new Promise((r) => setImmediate(r));
    expect(logs.entries().map((l) => l.i ?? l.message)).toEqual([0, 1, 2, 3, 4, 5, 'nested']);
  });

  it('batched: one write per event-loop turn (the default on stdout)', async () => {
    const writes: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _e, cb) {
        writes.push(chunk.toString());
        cb();
      },
    });
    const logger = createLogger({ level: 'info', stream, batchLines: true });
    logger.info('request', { type: 'access', i: 0 });
    logger.info('request', { type: 'access', i: 1 });
    expect(writes).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(writes).toHaveLength(1);
    expect(writes[0]!.split('\n')).toHaveLength(3);
  });

  it('write at once to a stream the caller gave (it may read it right away)', () => {
    const logs = new LogCapture();
    const logger = createLogger({ level: 'info', stream: logs });
    logger.info('request', { type: 'access', status: 200 });
    expect(logs.entries()).toHaveLength(1);
  });
});
