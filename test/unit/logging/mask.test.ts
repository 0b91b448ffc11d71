import fc from 'fast-check';
import { createLogger } from '../../../src/logging/logger';
import { LogCapture } from '../../helpers/servers';
import {
  MAX_LOGGED_CHARS,
  MAX_SHAPES_PER_VALUE,
  createFullScrubber,
  createMasker,
  createScrubber,
  fingerprint,
  maskJwts,
  maskUserinfo,
} from '../../../src/logging/mask';

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVzLWhlcmU';
const KEY = 'hok_live_abcdefghijklmnop123456';

describe('createScrubber', () => {
  const scrub = createScrubber(['hok_live_'], ['session']);
  const table: Array<[string, string, string[]]> = [
    ['JWT in a message', `bad token ${JWT} here`, [JWT, 'c2lnbmF0dXJl']],
    ['JWT in jsonwebtoken error text', `jwt malformed: ${JWT}`, [JWT]],
    ['API key by prefix', `key ${KEY} rejected`, [KEY]],
    ['Bearer credential', 'Authorization: Bearer abc123opaque', ['abc123opaque']],
    ['Basic credential', 'Authorization: Basic dXNlcjpwYXNz', ['dXNlcjpwYXNz']],
    ['URL userinfo', 'GET https://user:hunter2@example.com/x', ['hunter2', 'user:']],
    ['redis URL userinfo', 'connect redis://:s3cr3t@redis:6379', ['s3cr3t']],
    ['access_token query', '/x?access_token=tok123&y=1', ['tok123']],
    ['password query', '/login?user=a&password=pw99', ['pw99']],
    // regression: fingerprints once kept the first 4 characters even of short secrets
    ['short secret: the fingerprint reveals none of it', '/x?token=abcd1', ['abcd1', 'abcd']],
    ['configured query key', '/x?session=sess42', ['sess42']],
    ['code query (OAuth)', '/cb?code=authcode77&state=s', ['authcode77']],
  ];
  it.each(table)('%s', (_n, input, secrets) => {
    const out = scrub(input);
    for (const s of secrets) expect(out).not.toContain(s);
    expect(out).toContain('[masked ');
  });

  it('leaves ordinary text alone', () => {
    expect(scrub('GET /api/2.0/mlflow/runs/get?run_id=42 200')).toBe(
      'GET /api/2.0/mlflow/runs/get?run_id=42 200',
    );
  });

  it('fingerprints are stable and short', () => {
    expect(fingerprint(JWT)).toBe(fingerprint(JWT));
    expect(fingerprint(JWT)).toMatch(/^eyJh…#[0-9a-f]{8}$/);
  });
});

describe('createMasker', () => {
  const mask = createMasker({ headers: ['X-Custom-Secret'], apiKeyPrefixes: ['hok_live_'] });

  it('masks sensitive headers in objects and raw header lists without mutating them', () => {
    const headers = {
      authorization: `Bearer ${JWT}`,
      cookie: 'sid=1',
      'x-custom-secret': 'v',
      accept: '*/*',
    };
    const raw = ['Authorization', 'Basic abc', 'X-API-Key', KEY, 'Accept', '*/*'];
    const out = JSON.stringify(mask({ headers, raw }));
    for (const s of [JWT, 'sid=1', '"v"', 'Basic abc', KEY]) expect(out).not.toContain(s);
    expect(out).toContain('*/*');
    expect(headers.authorization).toBe(`Bearer ${JWT}`);
    expect(raw[3]).toBe(KEY);
  });

  it('masks errors: message, stack, and ioredis command.args', () => {
    const err = Object.assign(new Error(`ERR wrong number of arguments, value ${KEY}`), {
      command: { name: 'set', args: ['authgate:apikey:x', `{"key":"${KEY}"}`] },
    });
    const out = JSON.stringify(mask({ error: err }));
    expect(out).not.toContain(KEY);
    expect(out).toContain('wrong number of arguments');
  });

  it('masks sensitive field names anywhere', () => {
    const out = JSON.stringify(
      mask({ config: { secret: 'abc', nested: { password: 'pw', hashSecret: 'hs' } } }),
    );
    for (const s of ['"abc"', '"pw"', '"hs"']) expect(out).not.toContain(s);
  });

  it('survives cycles', () => {
    const a: Record<string, unknown> = { name: 'a' };
    a.self = a;
    expect(() => JSON.stringify(mask(a))).not.toThrow();
  });
});

describe('log scrubbing in linear time', () => {
  const mark = (m: string): string => `[masked ${fingerprint(m)}]`;
  // The reference patterns the scanners replace (quadratic, fine on short inputs).
  const jwtRef = (t: string): string =>
    t.replace(/eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}(?:\.[A-Za-z0-9_-]*){1,3}/g, mark);
  const userinfoRef = (t: string): string =>
    t.replace(
      /(\b[a-z][a-z0-9+.-]*:\/\/)([^/\s@]+)@/gi,
      (_m, scheme: string, info: string) => `${scheme}${mark(info)}@`,
    );
  const alphabet = fc.constantFrom(
    'e',
    'y',
    'J',
    'a',
    'Z',
    '1',
    '.',
    '_',
    '-',
    ':',
    '/',
    '@',
    ' ',
    '+',
    'h',
  );

  it('property: the JWT scanner masks exactly what the reference pattern masks', () => {
    fc.assert(
      fc.property(fc.string({ unit: alphabet, maxLength: 80 }), (t) => {
        expect(maskJwts(t)).toBe(jwtRef(t));
      }),
      { numRuns: 2000 },
    );
  });

  it('property: the pre-check never lets through a value the full scan would change', () => {
    const prefixes = ['hok_live_', 'Xk'];
    const quick = createScrubber(prefixes, ['session']);
    const full = createFullScrubber(prefixes, ['session']);
    const pieces = fc.constantFrom(
      'Bearer ',
      'basic\t',
      'NEGOTIATE\u00a0',
      '?token=',
      '&session=',
      ';key=',
      'https://',
      'u:p@',
      'eyJhb',
      'hok_live_',
      'Xk',
      'x',
      '.',
      '=',
      '@',
      '-',
      '/',
    );
    fc.assert(
      fc.property(
        fc.array(fc.oneof(pieces, fc.string({ unit: alphabet, maxLength: 6 })), {
          maxLength: 12,
        }),
        (parts) => {
          const t = parts.join('');
          expect(quick(t)).toBe(full(t));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('property: the userinfo scanner masks exactly what the reference pattern masks', () => {
    fc.assert(
      fc.property(fc.string({ unit: alphabet, maxLength: 80 }), (t) => {
        expect(maskUserinfo(t)).toBe(userinfoRef(t));
      }),
      { numRuns: 2000 },
    );
  });

  it('a value crafted to hold more secret shapes than the budget is masked whole', () => {
    const scrub = createScrubber(['hok_live_']);
    const crafted = Array.from(
      { length: MAX_SHAPES_PER_VALUE + 1 },
      (_, i) => `Bearer tok${i}secret`,
    ).join(' ');
    const out = scrub(crafted);
    expect(out).toBe(
      `[masked: ${crafted.length} chars with more than ${MAX_SHAPES_PER_VALUE} secret-shaped parts]`,
    );
    // below the budget every secret is masked in place, with its surroundings kept
    const few = 'a Bearer tok1secret b Bearer tok2secret c';
    expect(scrub(few)).toMatch(/^a Bearer \[masked [^\]]+\] b Bearer \[masked [^\]]+\] c$/);
  });

  it('caps every logged string value after scrubbing', () => {
    const mask = createMasker({});
    const long = `${'a'.repeat(MAX_LOGGED_CHARS)}https://u:pw@h`;
    const out = mask({ path: long }) as { path: string };
    expect(out.path.length).toBeLessThan(MAX_LOGGED_CHARS + 40);
    expect(out.path).toMatch(/…\[\+\d+ chars\]$/);
    expect(out.path).not.toContain('pw');
  });
});

describe('the logger masks top-level fields by name, on both paths', () => {
  it.each<[string, Record<string, unknown>]>([
    ['password (flat line)', { password: 'hunter2-plain' }],
    ['Password in another case', { Password: 'hunter2-plain' }],
    ['authorization header value', { authorization: 'hunter2-plain' }],
    ['token with other flat fields', { request_id: 'r1', token: 'hunter2-plain', status: 200 }],
    ['secret (not flat: a list)', { secret: ['hunter2-plain'] }],
    ['api_key with a nested object beside it', { api_key: 'hunter2-plain', ctx: { a: 1 } }],
  ])('%s', (_name, fields) => {
    const out = new LogCapture();
    const logger = createLogger({ level: 'info', stream: out });
    logger.info('a line', fields);
    logger.flush();
    expect(out.text()).toContain('a line');
    expect(out.text()).not.toContain('hunter2-plain');
  });
});
