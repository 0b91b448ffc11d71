import fc from 'fast-check';
import {
  KNOWN_SCHEMES,
  credentialPresented,
  extractCredentials,
  refuseQueryToken,
} from '../../../src/auth/credentials';

const rules = { apiKeyHeader: 'x-api-key', apiKeyPrefixes: ['hok_live_'] };
const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln';

describe('extractCredentials', () => {
  it.each<[string, string[], Record<string, unknown>]>([
    ['bearer JWT', ['Authorization', `Bearer ${JWT}`], { bearer: JWT, scheme: 'bearer' }],
    ['bearer, any case, trailing space', ['authorization', `bEaReR  ${JWT} `], { bearer: JWT }],
    ['bearer API key', ['Authorization', 'Bearer hok_live_a'], { apiKey: 'hok_live_a' }],
    ['API-key header', ['X-API-Key', 'hok_live_a'], { apiKey: 'hok_live_a' }],
    [
      'same key twice',
      ['Authorization', 'Bearer hok_live_a', 'x-api-key', 'hok_live_a'],
      { apiKey: 'hok_live_a' },
    ],
    [
      'Bearer x y',
      ['Authorization', 'Bearer x y'],
      { malformed: 'malformed_bearer', scheme: 'bearer' },
    ],
    ['Bearer,x', ['Authorization', 'Bearer,x'], { malformed: 'malformed_bearer' }],
    [
      'Basic <jwt>',
      ['Authorization', `Basic ${JWT}`],
      { malformed: 'wrong_scheme', scheme: 'basic' },
    ],
    ['bare JWT', ['Authorization', JWT], { malformed: 'wrong_scheme', scheme: 'other' }],
    ['Basic user:pass', ['Authorization', 'Basic dXNlcjpwYXNz'], { scheme: 'basic' }],
    ['unknown scheme', ['Authorization', 'Secret123 x'], { scheme: 'other' }],
  ])('%s', (_name, raw, expected) => {
    expect(extractCredentials(raw, rules)).toMatchObject(expected);
  });

  it('Basic user:pass is no malformed credential', () => {
    expect(extractCredentials(['Authorization', 'Basic dXNlcjpwYXNz'], rules).malformed).toBe(
      undefined,
    );
  });

  it.each<[string, string[]]>([
    ['JWT and X-API-Key', ['Authorization', `Bearer ${JWT}`, 'X-API-Key', 'hok_live_a']],
    ['two different keys', ['Authorization', 'Bearer hok_live_a', 'X-API-Key', 'hok_live_b']],
    ['two X-API-Key', ['X-API-Key', 'hok_live_a', 'X-API-Key', 'hok_live_a']],
  ])('refuses %s with 400', (_name, raw) => {
    expect(() => extractCredentials(raw, rules)).toThrow(expect.objectContaining({ status: 400 }));
  });

  const alb = { ...rules, albOidc: true };
  it.each<[string, string[]]>([
    ['ALB identity and a bearer', ['x-amzn-oidc-data', 'a.b.c', 'Authorization', `Bearer ${JWT}`]],
    [
      'ALB identity and an alg:none bearer',
      ['Authorization', 'Bearer eyJhbGciOiJub25lIn0.e30.', 'x-amzn-oidc-data', 'x'],
    ],
    ['ALB identity and an API key', ['x-amzn-oidc-data', 'a.b.c', 'X-API-Key', 'hok_live_a']],
    [
      'ALB identity and a malformed Authorization',
      ['x-amzn-oidc-data', 'a', 'Authorization', `Basic ${JWT}`],
    ],
  ])('with ALB OIDC configured, refuses %s as ambiguous (400)', (_name, raw) => {
    expect(() => extractCredentials(raw, alb)).toThrow(
      expect.objectContaining({ status: 400, reason: 'ambiguous_credentials' }),
    );
  });

  it.each<[string, string[], Record<string, unknown>, boolean]>([
    ['ALB identity alone is a credential', ['x-amzn-oidc-data', 'a.b.c'], alb, true],
    ['without ALB OIDC configured the header is none', ['x-amzn-oidc-data', 'a.b.c'], rules, false],
    ['nothing', [], alb, false],
    ['a bearer', ['Authorization', `Bearer ${JWT}`], rules, true],
    ['Basic user:pass is none', ['Authorization', 'Basic dXNlcjpwYXNz'], rules, false],
    ['a malformed bearer is one', ['Authorization', 'Bearer x y'], rules, true],
  ])('credentialPresented: %s', (_name, raw, r, presented) => {
    expect(credentialPresented(extractCredentials(raw, r as typeof rules))).toBe(presented);
  });

  it('property: the logged scheme is a registered name or "other", never part of the value', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 60 }), (value) => {
        let scheme: string | undefined;
        try {
          scheme = extractCredentials(['Authorization', value], rules).scheme;
        } catch {
          return;
        }
        expect([...KNOWN_SCHEMES, 'bearer', 'other']).toContain(scheme);
      }),
    );
  });
});

describe('refuseQueryToken', () => {
  it.each([
    '?access_token=1',
    '?ACCESS_TOKEN=1',
    '?access%5Ftoken=1',
    '?%61%63cess_token=x',
    '?a&access+token=1'.replace('+', '_'),
  ])('refuses %s', (q) =>
    expect(() => refuseQueryToken(q)).toThrow(expect.objectContaining({ status: 400 })),
  );
  it.each(['', '?', '?a=1', '?access_tokens=1', '?x=access_token', '?%zz=1'])('accepts %s', (q) =>
    expect(() => refuseQueryToken(q)).not.toThrow(),
  );

  it('property: any percent-encoding of the name is refused', () => {
    const name = 'access_token';
    fc.assert(
      fc.property(
        fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }),
        (enc) => {
          const spelled = [...name]
            .map((c, i) => (enc[i] ? `%${c.charCodeAt(0).toString(16).toUpperCase()}` : c))
            .join('');
          expect(() => refuseQueryToken(`?x=1&${spelled}=t`)).toThrow();
        },
      ),
    );
  });
});
