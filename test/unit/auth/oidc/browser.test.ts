import fc from 'fast-check';
import {
  clearCookie,
  cookiePairs,
  fromOrigin,
  isBrowserNavigation,
  readCookie,
  safeReturnTarget,
  setCookie,
  withoutOwnCookies,
} from '../../../../src/auth/oidc/browser';

const ORIGIN = 'https://mlflow.example.com';

describe('isBrowserNavigation', () => {
  test.each<[string, string, string[], boolean]>([
    [
      'a top-level page load',
      'GET',
      ['Accept', 'text/html,application/xhtml+xml', 'Sec-Fetch-Mode', 'navigate'],
      true,
    ],
    ['an old browser without Fetch metadata', 'GET', ['Accept', 'text/html'], true],
    ['HEAD', 'HEAD', ['Accept', 'text/html'], true],
    [
      'Accept in another case, with a quality',
      'GET',
      ['accept', 'TEXT/HTML;q=0.9, */*;q=0.1'],
      true,
    ],
    ['text/html refused with q=0', 'GET', ['Accept', 'text/html;q=0, application/json'], false],
    ['an XHR', 'GET', ['Accept', 'text/html', 'Sec-Fetch-Mode', 'cors'], false],
    [
      'a fetch() same-origin',
      'GET',
      ['Accept', 'text/html', 'Sec-Fetch-Mode', 'same-origin'],
      false,
    ],
    [
      'X-Requested-With',
      'GET',
      ['Accept', 'text/html', 'X-Requested-With', 'XMLHttpRequest'],
      false,
    ],
    ['an API client', 'GET', ['Accept', 'application/json'], false],
    ['*/* only (curl)', 'GET', ['Accept', '*/*'], false],
    ['no Accept', 'GET', [], false],
    ['a form POST', 'POST', ['Accept', 'text/html', 'Sec-Fetch-Mode', 'navigate'], false],
    ['text/htmlx is not text/html', 'GET', ['Accept', 'text/htmlx'], false],
  ])('%s → %s', (_what, method, raw, expected) => {
    expect(isBrowserNavigation(method, raw)).toBe(expected);
  });
});

describe('safeReturnTarget', () => {
  test.each<[string | undefined, string]>([
    ['/experiments/7?tab=runs', '/experiments/7?tab=runs'],
    ['/', '/'],
    ['/a/../b', '/a/../b'],
    ['/%2F%2Fevil.example', '/%2F%2Fevil.example'],
    [undefined, '/'],
    ['', '/'],
    ['//evil.example', '/'],
    ['//evil.example/path', '/'],
    ['/\\evil.example', '/'],
    ['/\\/evil.example', '/'],
    ['\\\\evil.example', '/'],
    ['https://evil.example/', '/'],
    ['http:evil.example', '/'],
    ['javascript:alert(1)', '/'],
    ['evil.example', '/'],
    ['/ok\\..\\', '/'],
    ['/a\tb', '/'],
    ['/a\nLocation: x', '/'],
    ['/a b', '/'],
    ['/..//evil.example', '/'],
    ['/' + 'a'.repeat(3000), '/'],
  ])('%j → %j', (target, expected) => {
    expect(safeReturnTarget(target, ORIGIN)).toBe(expected);
  });

  test('whatever it is given, the result resolves to the same origin and is a plain path', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.webUrl(),
          fc.string().map((s) => `/${s}`),
          fc.string().map((s) => `//${s}`),
          fc.string().map((s) => `/\\${s}`),
          fc
            .constantFrom('/', '\\', '.', '..', ':', '%2f', '@', '#', '?')
            .chain((c) =>
              fc
                .array(fc.constantFrom(c, '/', '\\', 'evil.example', '.', 'a'))
                .map((p) => `/${p.join('')}`),
            ),
        ),
        (target) => {
          const out = safeReturnTarget(target, ORIGIN);
          expect(new URL(out, ORIGIN).origin).toBe(ORIGIN);
          expect(out).toMatch(/^\/(?![/\\])/);
          expect(out).not.toMatch(/[\s\\]/);
        },
      ),
    );
  });
});

describe('fromOrigin (the CSRF check)', () => {
  test.each<[string, string[], boolean]>([
    ['its own Origin', ['Origin', ORIGIN], true],
    ['another Origin', ['Origin', 'https://evil.example'], false],
    ['Origin null', ['Origin', 'null'], false],
    ['its origin with a trailing slash', ['Origin', `${ORIGIN}/`], false],
    ['its origin over http', ['Origin', 'http://mlflow.example.com'], false],
    ['its own Referer', ['Referer', `${ORIGIN}/experiments`], true],
    ['a Referer of a subdomain', ['Referer', 'https://x.mlflow.example.com/'], false],
    ['a Referer on another port', ['Referer', 'https://mlflow.example.com:8443/'], false],
    ['an unparsable Referer', ['Referer', 'not a url'], false],
    [
      'Origin wins over Referer',
      ['Origin', 'https://evil.example', 'Referer', `${ORIGIN}/`],
      false,
    ],
    ['neither', [], false],
  ])('%s → %s', (_what, raw, expected) => {
    expect(fromOrigin(raw, ORIGIN)).toBe(expected);
  });
});

describe("authgate's cookies", () => {
  test('read from every Cookie header, first value wins', () => {
    const raw = ['Cookie', 'a=1; authgate_session=abc', 'cookie', 'authgate_session=def'];
    expect(readCookie(raw, 'authgate_session')).toBe('abc');
    expect(readCookie(raw, 'missing')).toBeUndefined();
    expect(cookiePairs(raw)).toEqual([
      ['a', '1'],
      ['authgate_session', 'abc'],
      ['authgate_session', 'def'],
    ]);
  });

  test.each<[string, string | undefined]>([
    ['authgate_session=abc', undefined],
    ['theme=dark; authgate_session=abc; lang=en', 'theme=dark; lang=en'],
    ['authgate_session_login_0123456789ab=x; a=1', 'a=1'],
    ['authgate_sessionx=1', 'authgate_sessionx=1'],
    ['my_authgate_session=1', 'my_authgate_session=1'],
    [' authgate_session = abc ;b=2', 'b=2'],
    ['flag; authgate_session=1', 'flag'],
  ])('forwarded without them: %j → %j', (value, expected) => {
    expect(withoutOwnCookies(value, 'authgate_session')).toBe(expected);
  });

  test('stripping never leaves one of them and keeps every other pair', () => {
    const name = fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/);
    const own = fc.oneof(
      fc.constant('authgate_session'),
      fc.stringMatching(/^[0-9a-f]{12}$/).map((h) => `authgate_session_login_${h}`),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.oneof(name, own), fc.stringMatching(/^[\w.-]{0,10}$/))),
        (pairs) => {
          const header = pairs.map(([n, v]) => `${n}=${v}`).join('; ');
          const out = withoutOwnCookies(header, 'authgate_session') ?? '';
          const left = cookiePairs(['Cookie', out]);
          expect(
            left.some(([n]) => n === 'authgate_session' || n.startsWith('authgate_session_login_')),
          ).toBe(false);
          expect(left).toEqual(
            pairs.filter(
              ([n]) => n !== 'authgate_session' && !n.startsWith('authgate_session_login_'),
            ),
          );
        },
      ),
    );
  });

  test('Set-Cookie is HttpOnly and SameSite=Lax, Secure when asked', () => {
    expect(setCookie('s', 'v', { maxAgeSec: 60, path: '/', secure: true })).toBe(
      's=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure',
    );
    expect(clearCookie('s', '/cb', false)).toBe('s=; Path=/cb; Max-Age=0; HttpOnly; SameSite=Lax');
  });
});
