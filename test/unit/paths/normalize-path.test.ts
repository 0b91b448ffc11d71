import { AuthgateError } from '../../../src/errors';
import { hasDotSegments, normalizeRequestTarget } from '../../../src/paths/normalize-path';

describe('normalizeRequestTarget', () => {
  const accepted: Array<[string, string, string]> = [
    ['/', '/', ''],
    ['/a/b', '/a/b', ''],
    ['/a/b/', '/a/b/', ''],
    ['/a/./b', '/a/b', ''],
    ['/a/../b', '/b', ''],
    ['/../../etc/passwd', '/etc/passwd', ''],
    ['/a/b/..', '/a/', ''],
    ['/a/b/.', '/a/b/', ''],
    ['//a///b', '/a/b', ''],
    ['/a//../b', '/b', ''],
    ['/%61dmin', '/admin', ''],
    ['/%2e%2e/admin', '/admin', ''],
    ['/public/%2E%2E/admin', '/admin', ''],
    ['/a/%7euser', '/a/~user', ''],
    ['/a/%c3%a9', '/a/%C3%A9', ''],
    ['/a%20b', '/a%20b', ''],
    ['/a?x=1&y=%2F', '/a', '?x=1&y=%2F'],
    ['/a/../b?q=../..', '/b', '?q=../..'],
    ['http://example.com/a/b?c', '/a/b', '?c'],
    ['http://example.com', '/', ''],
    ['http://example.com?x', '/', '?x'],
    ['/.well-known/jwks.json', '/.well-known/jwks.json', ''],
    ['/a..b/c', '/a..b/c', ''],
  ];
  it.each(accepted)('%s → %s %s', (target, path, search) => {
    expect(normalizeRequestTarget(target)).toMatchObject({ path, search });
  });

  const refused: Array<[string, string]> = [
    ['/a%2Fb', 'encoded_separator'],
    ['/a%2fb', 'encoded_separator'],
    ['/a%5Cb', 'encoded_separator'],
    ['/a%5cb', 'encoded_separator'],
    ['/a\\b', 'backslash'],
    ['/a%00b', 'nul'],
    ['/a%zz', 'bad_percent_encoding'],
    ['/a%4', 'bad_percent_encoding'],
    ['/a%', 'bad_percent_encoding'],
    ['http://user:pass@example.com/a', 'userinfo'],
    ['http://user@example.com/a', 'userinfo'],
    ['*', 'bad_target'],
    ['ftp://example.com/a', 'bad_target'],
    ['a/b', 'bad_target'],
    ['/a#frag', 'fragment'],
    ['/a\tb', 'control_char'],
  ];
  it.each(refused)('refuses %j (%s) with 400 BAD_REQUEST', (target, reason) => {
    let caught: unknown;
    try {
      normalizeRequestTarget(target);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(AuthgateError);
    expect((caught as AuthgateError).code).toBe('BAD_REQUEST');
    expect((caught as AuthgateError).status).toBe(400);
    expect((caught as AuthgateError).reason).toBe(reason);
  });
});

describe('dot-segments in a raw target', () => {
  it.each<[string, boolean]>([
    ['/a/b', false],
    ['/a/../b', true],
    ['/a/./b', true],
    ['/..', true],
    ['/a/%2e%2e/b', true],
    ['/a/%2E./b', true],
    ['/a/.%2e', true],
    ['/a..b/c', false],
    ['/.well-known/x', false],
    ['/a?q=../..', false],
    ['/a/...', false],
  ])('%s → %s', (target, expected) => {
    expect(hasDotSegments(target)).toBe(expected);
    expect(normalizeRequestTarget(target).dotSegments).toBe(expected);
  });
});
