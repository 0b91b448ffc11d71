import { createMasker, createScrubber, fingerprint } from '../../../src/logging/mask';

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
