import { ConfigError, parseConfig } from '../../../src/config/load';
import { configWarnings } from '../../../src/config/checks';

const base = {
  issuer: 'https://idp.example.com',
  clientId: 'authgate',
  clientSecret: 'secret',
  publicUrl: 'https://mlflow.example.com',
};

function problems(oidc: Record<string, unknown> | undefined, login = 'browser'): string[] {
  try {
    parseConfig({
      auth: oidc ? { oidc } : {},
      routes: [{ name: 'ui', prefix: '/', upstream: 'http://127.0.0.1:1', login }],
    });
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.map((p) => `${p.path}: ${p.reason}`);
  }
}

describe('auth.oidc and routes[].login', () => {
  test('the defaults of the design', () => {
    const config = parseConfig({
      auth: { oidc: base },
      routes: [{ name: 'ui', prefix: '/', upstream: 'http://127.0.0.1:1', login: 'browser' }],
    });
    expect(config.auth.oidc).toMatchObject({
      scopes: ['openid', 'profile', 'email', 'offline_access'],
      callbackPath: '/oauth2/callback',
      logoutPath: '/oauth2/logout',
      session: {
        cookieName: 'authgate_session',
        cookieSecure: true,
        idleTimeoutSec: 28800,
        absoluteTimeoutSec: 86400,
      },
      claims: { userId: 'sub', tenants: 'tenant_ids', scopes: 'scope' },
    });
    expect(config.routes[0]!.login).toBe('browser');
  });

  test.each<[string, Record<string, unknown> | undefined, RegExp]>([
    [
      'a plain-http issuer that is not loopback',
      { ...base, issuer: 'http://idp.example.com' },
      /^auth\.oidc\.issuer: must be https/,
    ],
    [
      'a plain-http publicUrl with Secure cookies',
      { ...base, publicUrl: 'http://127.0.0.1:8080' },
      /^auth\.oidc\.session\.cookieSecure: is true but publicUrl is plain http/,
    ],
    [
      'a publicUrl with a path',
      { ...base, publicUrl: 'https://x.example/mlflow' },
      /^auth\.oidc\.publicUrl: must be an origin/,
    ],
    [
      'scopes without openid',
      { ...base, scopes: ['profile'] },
      /^auth\.oidc\.scopes: must include "openid"/,
    ],
    [
      'an idle timeout past the absolute one',
      { ...base, session: { idleTimeoutSec: 7200, absoluteTimeoutSec: 3600 } },
      /idleTimeoutSec: must not exceed absoluteTimeoutSec/,
    ],
    [
      'one path for callback and logout',
      { ...base, logoutPath: '/oauth2/callback' },
      /^auth\.oidc\.logoutPath: must differ/,
    ],
    [
      'a cookie name with a separator',
      { ...base, session: { cookieName: 'a;b' } },
      /^auth\.oidc\.session\.cookieName/,
    ],
    [
      'login: browser without auth.oidc',
      undefined,
      /^routes\[0\]\.login: is "browser" but auth\.oidc is not configured/,
    ],
  ])('refuses %s', (_what, oidc, expected) => {
    expect(problems(oidc)).toEqual(expect.arrayContaining([expect.stringMatching(expected)]));
  });

  test('plain http is fine for a loopback issuer and publicUrl with cookieSecure false', () => {
    expect(
      problems({
        ...base,
        issuer: 'http://127.0.0.1:9000',
        publicUrl: 'http://localhost:8080',
        session: { cookieSecure: false },
      }),
    ).toEqual([]);
  });
});

describe('warnings', () => {
  const config = (redis: Record<string, unknown>) =>
    parseConfig({
      redis,
      auth: { oidc: base },
      routes: [{ name: 'ui', prefix: '/', upstream: 'http://127.0.0.1:1', login: 'browser' }],
    });

  test('sessions in process are one instance only', () => {
    expect(configWarnings(config({}))).toEqual([
      {
        path: ['auth', 'oidc'],
        message:
          'sessions are kept in this process (no redis): one instance only, and a restart signs everyone out',
      },
    ]);
    expect(configWarnings(config({ url: 'redis://127.0.0.1:6379' }))).toEqual([]);
  });
});
