import fc from 'fast-check';
import { createLogger } from '../../../src/logging/logger';
import { LogCapture } from '../../helpers/servers';
import {
  MAX_LOGGED_CHARS,
  MAX_SHAPES_PER_VALUE,
  capLength,
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

describe('createScrubber, exactly', () => {
  const scrub = createScrubber(['hok_live_'], ['session']);
  const m = (secret: string) => `[masked ${fingerprint(secret)}]`;
  it.each<[string, string]>([
    ['Bearer abcdef', `Bearer ${m('abcdef')}`],
    ['bearer ABCDEFG', `bearer ${m('ABCDEFG')}`],
    ['Basic abcde', 'Basic abcde'], // five characters: too short to be a credential
    ['Digest abcdefgh', `Digest ${m('abcdefgh')}`],
    ['Negotiate abcdefgh', `Negotiate ${m('abcdefgh')}`],
    ['Token abcdefgh', 'Token abcdefgh'],
    ['xBearer abcdefgh', 'xBearer abcdefgh'],
    ['Bearer   spaced.token+/=~', `Bearer ${m('spaced.token+/=~')}`],
    ['/x?token=abc&y=1', `/x?token=${m('abc')}&y=1`],
    ['/x;key=abc', `/x;key=${m('abc')}`],
    ['/x&code=abc#frag', `/x&code=${m('abc')}#frag`],
    ['/x?TOKEN=abc', `/x?TOKEN=${m('abc')}`],
    ['/x?session=s1', `/x?session=${m('s1')}`],
    ['/x?mytoken=abc', '/x?mytoken=abc'],
    ["/x?password=a'b", `/x?password=${m('a')}'b`],
    ['/x?refresh_token=r t', `/x?refresh_token=${m('r')} t`],
    ['https://u:p@h/x', `https://${m('u:p')}@h/x`],
    ['https://h/x@y', 'https://h/x@y'],
    ['redis://@h', 'redis://@h'],
    ['a://b@c', `a://${m('b')}@c`],
    ['xhttp://u:p@h', `xhttp://${m('u:p')}@h`],
    [' http://u:p@h', ` http://${m('u:p')}@h`],
    ['http://u p@h', 'http://u p@h'],
    ['http://u:p@h and ftp://v:q@i', `http://${m('u:p')}@h and ftp://${m('v:q')}@i`],
    ['eyJab.cd', 'eyJab.cd'],
    ['eyJabc.de', 'eyJabc.de'],
    ['eyJabc.de.f', m('eyJabc.de.f')],
    ['eyJabc.de.f.g.h.i', `${m('eyJabc.de.f.g.h')}.i`],
    ['xeyJabc.de.', `x${m('eyJabc.de.')}`],
    ['eyJa.de.f', 'eyJa.de.f'],
    ['hok_live_ab', m('hok_live_ab')],
    ['key hok_live_a-b_c!', `key ${m('hok_live_a-b_c')}!`],
    ['hok_live_', 'hok_live_'],
    ['no secrets here', 'no secrets here'],
    [`Bearer ${JWT}`, `Bearer ${m(JWT)}`], // masked once, as a JWT
  ])('%j', (input, expected) => {
    expect(scrub(input)).toBe(expected);
  });

  it('only the first 8 secrets of one value get a fingerprint', () => {
    const secrets = Array.from({ length: 10 }, (_, i) => `/p?token=secret${i}`);
    const out = scrub(secrets.join(' '));
    const expected = secrets
      .map((_, i) => `/p?token=${i < 8 ? m(`secret${i}`) : '[masked]'}`)
      .join(' ');
    expect(out).toBe(expected);
  });

  it('fingerprints: the first 4 characters only from 16 characters on', () => {
    expect(fingerprint('a'.repeat(15))).toMatch(/^…#[0-9a-f]{8}$/);
    expect(fingerprint('abcd'.repeat(4))).toMatch(/^abcd…#[0-9a-f]{8}$/);
    expect(fingerprint('x')).not.toBe(fingerprint('y'));
  });
});

describe('budgets and bounds, exactly', () => {
  const m = (secret: string) => `[masked ${fingerprint(secret)}]`;
  const flooded = (text: string) =>
    `[masked: ${text.length} chars with more than ${MAX_SHAPES_PER_VALUE} secret-shaped parts]`;

  it('capLength keeps exactly MAX_LOGGED_CHARS and counts the rest', () => {
    const exact = 'a'.repeat(MAX_LOGGED_CHARS);
    expect(capLength(exact)).toBe(exact);
    expect(capLength(`${exact}bc`)).toBe(`${exact}…[+2 chars]`);
  });

  it.each<[string, (n: number) => string]>([
    ['JWT-shaped starts', (n) => 'eyJ.'.repeat(n)],
    ['URL schemes', (n) => 'a:// '.repeat(n)],
    ['secrets', (n) => Array.from({ length: n }, (_, i) => `?token=t${i}`).join(' ')],
  ])('%s: 64 are scanned, 65 mask the value whole', (_name, make) => {
    const scrub = createFullScrubber();
    expect(scrub(make(MAX_SHAPES_PER_VALUE + 1))).toBe(flooded(make(MAX_SHAPES_PER_VALUE + 1)));
    expect(scrub(make(MAX_SHAPES_PER_VALUE - 1))).not.toMatch(/^\[masked: /);
  });

  it('an API-key prefix is matched literally, not as a pattern', () => {
    const scrub = createScrubber(['hok.live_']);
    expect(scrub('hokXlive_abc')).toBe('hokXlive_abc');
    expect(scrub('hok.live_abc')).toBe(m('hok.live_abc'));
  });

  it('a query credential already masked as an API key is masked once', () => {
    const scrub = createScrubber(['hok_live_']);
    expect(scrub('/x?token=hok_live_abcdef&y=1')).toBe(`/x?token=${m('hok_live_abcdef')}&y=1`);
  });

  it('nested lists count toward the depth too', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 12; i++) deep = [deep];
    expect(JSON.stringify(createMasker()(deep))).not.toContain('leaf');
    let shallow: unknown = 'leaf';
    for (let i = 0; i < 8; i++) shallow = [shallow];
    expect(JSON.stringify(createMasker()(shallow))).toContain('leaf');
  });

  it('an error without a stack gets no stack field', () => {
    const err = new Error('plain');
    delete err.stack;
    expect(createMasker()(err)).toEqual({ name: 'Error', message: 'plain' });
  });
});

describe('createMasker, exactly', () => {
  const mask = createMasker({
    headers: ['X-Custom-Secret'],
    queryParams: ['session'],
    apiKeyPrefixes: ['hok_live_'],
  });
  const m = (secret: string) => `[masked ${fingerprint(secret)}]`;

  it.each<[string, unknown, unknown]>([
    [
      'a sensitive header by name, any case',
      { Authorization: 'Bearer x' },
      { Authorization: m('Bearer x') },
    ],
    ['a configured header', { 'x-custom-secret': 'v' }, { 'x-custom-secret': m('v') }],
    ['a configured query name is a field name too', { SESSION: 's' }, { SESSION: m('s') }],
    ['a number in a sensitive field', { password: 42 }, { password: '[masked]' }],
    ['an object in a sensitive field', { token: { a: 1 } }, { token: '[masked]' }],
    [
      'presence flags stay',
      { api_key: true, secret: null, token: undefined },
      { api_key: true, secret: null, token: undefined },
    ],
    ['a list in a sensitive field', { cookie: ['a', 'b'] }, { cookie: [m('a'), m('b')] }],
    [
      'other fields pass, scrubbed',
      { path: '/x?token=abc', n: 1, ok: false },
      { path: `/x?token=${m('abc')}`, n: 1, ok: false },
    ],
    [
      'a raw header list: values after sensitive names',
      ['Cookie', 'c', 'Accept', 'a', 'X-API-Key', 'k'],
      ['Cookie', m('c'), 'Accept', 'a', 'X-API-Key', m('k')],
    ],
    [
      'a raw header list: names are never masked',
      ['Authorization', 'Authorization'],
      ['Authorization', m('Authorization')],
    ],
    ['a list whose even entries are not strings', [1, 'cookie', 'x'], [1, 'cookie', 'x']],
    ['ioredis args', { args: ['k', 'v'] }, { args: [m('k'), m('v')] }],
    ['args that are not a list are walked', { args: 'x?token=t' }, { args: `x?token=${m('t')}` }],
    ['plain values', 7, 7],
    ['null', null, null],
  ])('%s', (_name, input, expected) => {
    expect(mask(input)).toEqual(expected);
  });

  it('an error: name, scrubbed message and stack, and its own fields', () => {
    const err = Object.assign(new TypeError('bad /x?token=abc'), { code: 'E1', password: 'p' });
    const out = mask(err) as Record<string, unknown>;
    expect(out).toMatchObject({
      name: 'TypeError',
      message: `bad /x?token=${m('abc')}`,
      code: 'E1',
      password: m('p'),
    });
    expect(String(out.stack)).toContain(`TypeError: bad /x?token=${m('abc')}`);
  });

  it('nesting deeper than 8 levels and cycles end in […]', () => {
    let deep: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 10; i++) deep = { d: deep };
    let text = JSON.stringify(mask(deep));
    expect(text).toContain('"[…]"');
    expect(text).not.toContain('leaf');
    let shallow: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 8; i++) shallow = { d: shallow };
    text = JSON.stringify(mask(shallow));
    expect(text).toContain('"leaf":1');
    const a: Record<string, unknown> = { name: 'a' };
    a.self = a;
    expect(mask(a)).toEqual({ name: 'a', self: '[…]' });
  });

  it('sensitive(key) and maskField', () => {
    expect(
      ['Authorization', 'PASSWORD', 'x-custom-secret', 'session', 'accept', 'path'].map((k) =>
        mask.sensitive(k),
      ),
    ).toEqual([true, true, true, true, false, false]);
    expect(mask.sensitive('Cookie')).toBe(true); // answered again from the memo
    expect(mask.maskField('v')).toBe(m('v'));
    expect(mask.maskField(3)).toBe('[masked]');
    expect(mask.maskField(false)).toBe(false);
  });

  it('the default masker knows every listed header and field', () => {
    const plain = createMasker();
    for (const name of [
      'authorization',
      'proxy-authorization',
      'cookie',
      'set-cookie',
      'x-api-key',
      'x-amzn-oidc-data',
      'x-amzn-oidc-accesstoken',
      'secret',
      'hashsecret',
      'bearertoken',
      'passwd',
      'private_key',
      'api_key',
      'password',
      'token',
    ]) {
      expect([name, plain.sensitive(name)]).toEqual([name, true]);
    }
    for (const name of ['session', 'accept', 'user_id', 'path'])
      expect([name, plain.sensitive(name)]).toEqual([name, false]);
  });

  it('every listed query parameter is masked in a URL', () => {
    const scrub = createScrubber();
    for (const name of [
      'access_token',
      'token',
      'id_token',
      'refresh_token',
      'api_key',
      'apikey',
      'key',
      'code',
      'client_secret',
      'password',
      'signature',
    ]) {
      expect(scrub(`/p?${name}=v1`)).toBe(`/p?${name}=${m('v1')}`);
    }
    expect(scrub('/p?session=v1')).toBe('/p?session=v1');
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

  // Every ASCII character in every place of a JWT and a URL, against the reference patterns:
  // the character classes' edges ('/' ':' '@' '[' '`' '{' around the ranges) are where a
  // hand-written scanner goes wrong, and random strings rarely land on them.
  const ASCII = Array.from({ length: 128 }, (_, i) => String.fromCharCode(i));
  const JWT_PLACES = [
    (c: string) => `eyJa${c}c.de.fg`,
    (c: string) => `eyJabc.d${c}e.fg`,
    (c: string) => `eyJabc.de.f${c}g.h`,
    (c: string) => `eyJabc.de.fg${c}.h.i.j`,
    (c: string) => `x${c}eyJabcd.ef.g`,
    (c: string) => `eyJ${c}b.cd.e`,
  ];
  const URL_PLACES = [
    (c: string) => `${c}http://u:p@h`,
    (c: string) => `h${c}ttp://u:p@h`,
    (c: string) => `1${c}http://u:p@h`,
    (c: string) => `x${c}1a://u:p@h`,
    (c: string) => `http://u${c}p@h`,
    (c: string) => `see:${c}ftp://a@b and s3://k${c}y@bucket`,
    (c: string) => `a${c}://u@h`,
  ];
  it.each(JWT_PLACES.map((place, i) => [i, place] as const))(
    'the JWT scanner agrees with the reference for every ASCII character in place %i',
    (_i, place) => {
      const differ = ASCII.map(place).filter((t) => maskJwts(t) !== jwtRef(t));
      expect(differ).toEqual([]);
    },
  );
  it.each(URL_PLACES.map((place, i) => [i, place] as const))(
    'the userinfo scanner agrees with the reference for every ASCII character in place %i',
    (_i, place) => {
      const differ = ASCII.map(place).filter((t) => maskUserinfo(t) !== userinfoRef(t));
      expect(differ).toEqual([]);
    },
  );

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
