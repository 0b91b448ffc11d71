/**
 * Browser sign-in against a real OpenID Provider (oidc-provider, PKCE required, refresh tokens
 * rotated, short access tokens): browsers are sent to sign in and API clients get the typed
 * 401 on the same route; the session authenticates like a bearer token and the upstream gets
 * the session's access token but never authgate's cookies; state, return targets and CSRF are
 * checked; refresh happens once, before expiry; a revoked grant ends the session.
 */
import { HttpBrowser, IDP_CLIENT, startIdp, type Idp } from '../../helpers/idp';
import { ManualClock } from '../../helpers/manual-clock';
import { startAuthService, type AuthService } from '../../helpers/auth-service';
import { sign } from '../../helpers/jwks';
import {
  freePort,
  pairs,
  rawRequest,
  startProxy,
  startUpstream,
  type RawResponse,
  type SeenRequest,
  type TestProxy,
  type TestUpstream,
} from '../../helpers/servers';

const JWT_SECRET = 'sign-in-test-jwt-secret-0123456789abcdef';

function header(seen: SeenRequest, name: string): string[] {
  return pairs(seen.rawHeaders)
    .filter(([n]) => n.toLowerCase() === name)
    .map(([, v]) => v);
}

function json(res: RawResponse): Record<string, unknown> {
  return JSON.parse(res.body.toString()) as Record<string, unknown>;
}

function setCookies(res: RawResponse): string[] {
  const v = res.headers['set-cookie'];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

describe('browser sign-in with a real OpenID Provider', () => {
  let idp: Idp;
  let upstream: TestUpstream;
  let proxy: TestProxy;
  let service: AuthService;
  let publicUrl: string;
  const clock = new ManualClock();
  const API_KEY = 'hok_live_browser-route-key-0123456789';

  beforeAll(async () => {
    const port = await freePort();
    publicUrl = `http://127.0.0.1:${port}`;
    idp = await startIdp({
      publicUrls: [publicUrl],
      accessTokenTtl: 300,
      accounts: {
        alice: { groups: ['mlflow-editors'], tenant_ids: ['acme'], email: 'alice@example.com' },
        bob: { groups: ['viewers'], tenant_ids: ['beta'] },
      },
    });
    upstream = await startUpstream();
    service = await startAuthService();
    service.keys.set(API_KEY, { user_id: 'ci-key', scopes: ['mlflow:read'] });
    proxy = await startProxy(
      {
        metrics: { port: 0 },
        auth: {
          failedAuthGuard: { maxFailures: 0 },
          apiKeys: {
            prefixes: ['hok_live_'],
            validateUrl: service.url,
            hashSecret: 'browser-sign-in-hash-secret-0123456789abcdef',
          },
          jwt: { issuers: [{ issuer: 'api', algorithms: ['HS256'], secret: JWT_SECRET }] },
          oidc: {
            issuer: idp.issuer,
            clientId: IDP_CLIENT.clientId,
            clientSecret: IDP_CLIENT.clientSecret,
            publicUrl,
            session: { cookieSecure: false },
            groupScopes: {
              claim: 'groups',
              map: { 'mlflow-editors': ['mlflow:read', 'mlflow:edit'], viewers: ['mlflow:read'] },
            },
          },
        },
        routes: [
          {
            name: 'ui',
            prefix: '/',
            upstream: upstream.url,
            auth: 'required',
            login: 'browser',
            scopes: { GET: ['mlflow:read'], HEAD: ['mlflow:read'], '*': ['mlflow:edit'] },
          },
          {
            name: 'api-only',
            prefix: '/api-only',
            upstream: upstream.url,
            auth: 'required',
            scopes: ['mlflow:read'],
          },
        ],
      },
      { clock },
      {},
      port,
    );
  });

  afterAll(async () => {
    await proxy?.close();
    await upstream?.close();
    await service?.close();
    await idp?.stop();
  });

  async function signedIn(user = 'alice', page = '/'): Promise<HttpBrowser> {
    const browser = new HttpBrowser();
    const back = await browser.signIn(`${publicUrl}${page}`, user);
    expect(back.status).toBe(302);
    return browser;
  }

  test('a browser navigation without a credential is sent to the provider with state, nonce and PKCE S256', async () => {
    const browser = new HttpBrowser();
    const res = await browser.request(`${publicUrl}/experiments?view=list`);
    expect(res.status).toBe(302);
    const to = new URL(res.headers.location as string);
    expect(to.origin).toBe(idp.issuer);
    expect(to.searchParams.get('code_challenge_method')).toBe('S256');
    expect(to.searchParams.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(to.searchParams.get('state')).toMatch(/^[\w-]{20,}$/);
    expect(to.searchParams.get('nonce')).toMatch(/^[\w-]{20,}$/);
    expect(to.searchParams.get('redirect_uri')).toBe(`${publicUrl}/oauth2/callback`);
    expect(to.searchParams.get('client_id')).toBe(IDP_CLIENT.clientId);
    const [cookie] = setCookies(res);
    expect(cookie).toMatch(
      /^authgate_session_login_[0-9a-f]{12}=[\w-]+; Path=\/oauth2\/callback; Max-Age=600; HttpOnly; SameSite=Lax$/,
    );
    expect(res.headers['cache-control']).toBe('no-store');
    expect(upstream.seen).toHaveLength(0);
  });

  test.each([
    ['an XHR', { Accept: 'application/json', 'Sec-Fetch-Mode': 'cors' }],
    ['an API client', { Accept: 'application/json' }],
    ['a fetch() of a page', { Accept: 'text/html', 'Sec-Fetch-Mode': 'cors' }],
    ['a POST from a form', { Accept: 'text/html' }],
  ])('%s without a credential gets the typed 401, not a redirect', async (_what, headers) => {
    const browser = new HttpBrowser();
    const method = _what === 'a POST from a form' ? 'POST' : 'GET';
    const res = await browser.request(`${publicUrl}/experiments`, {
      method,
      headers: { 'Sec-Fetch-Mode': '', ...headers },
    });
    expect(res.status).toBe(401);
    expect(json(res).error_code).toBe('AUTH_REQUIRED');
    expect(res.headers.location).toBeUndefined();
  });

  test('a route without login: browser answers a navigation with the typed 401', async () => {
    const res = await new HttpBrowser().request(`${publicUrl}/api-only/x`);
    expect(res.status).toBe(401);
    expect(json(res).error_code).toBe('AUTH_REQUIRED');
  });

  test('a bearer token keeps working on the browser route', async () => {
    const token = sign(JWT_SECRET, { iss: 'api', sub: 'ci-bot', claims: { scope: 'mlflow:read' } });
    const res = await rawRequest(publicUrl, {
      path: '/experiments',
      headers: ['Host', 'authgate.test', 'Authorization', `Bearer ${token}`, 'Accept', 'text/html'],
    });
    expect(res.status).toBe(200);
  });

  test('an API key keeps working on the browser route, beside a session cookie too', async () => {
    const before = upstream.seen.length;
    const res = await rawRequest(publicUrl, {
      path: '/experiments',
      headers: [
        'Host',
        'authgate.test',
        'Authorization',
        `Bearer ${API_KEY}`,
        'Accept',
        'text/html',
      ],
    });
    expect(res.status).toBe(200);
    expect(header(upstream.seen[before]!, 'x-user-id')).toEqual(['ci-key']);
    // A signed-in browser that sends a key: the key decides, and goes up untouched.
    const alice = await signedIn('alice');
    const mixed = await alice.request(`${publicUrl}/experiments`, {
      headers: { Authorization: `Bearer ${API_KEY}` },
    });
    expect(mixed.status).toBe(200);
    const seen = upstream.seen.at(-1)!;
    expect(header(seen, 'x-user-id')).toEqual(['ci-key']);
    expect(header(seen, 'authorization')).toEqual([`Bearer ${API_KEY}`]);
  });

  test('signing in returns to the page first asked for; the session authenticates like a bearer token', async () => {
    const browser = new HttpBrowser();
    const back = await browser.signIn(`${publicUrl}/experiments/7?tab=runs`, 'alice');
    expect(back.status).toBe(302);
    expect(back.headers.location).toBe('/experiments/7?tab=runs');
    const session = setCookies(back).find((c) => c.startsWith('authgate_session='));
    expect(session).toMatch(
      /^authgate_session=[\w-]{43}; Path=\/; Max-Age=86400; HttpOnly; SameSite=Lax$/,
    );
    // The pre-sign-in cookie is cleared, and is never a session.
    expect(setCookies(back).some((c) => /^authgate_session_login_\w+=; .*Max-Age=0/.test(c))).toBe(
      true,
    );

    browser.cookies.push({ name: 'theme', value: 'dark', path: '/' });
    const before = upstream.seen.length;
    const page = await browser.request(`${publicUrl}/experiments/7?tab=runs`);
    expect(page.status).toBe(200);
    const seen = upstream.seen[before]!;
    expect(header(seen, 'x-user-id')).toEqual(['alice']);
    const [authorization] = header(seen, 'authorization');
    expect(authorization).toMatch(/^Bearer [\w-]{20,}$/);
    // authgate's cookies never reach the upstream; every other cookie does (the provider's
    // share the host: cookies are per host, not per port).
    const [cookies] = header(seen, 'cookie');
    expect(cookies).toMatch(/(^|; )theme=dark$/);
    expect(cookies).not.toMatch(/authgate_session/);
    expect(JSON.stringify(seen.rawHeaders)).not.toContain(browser.cookie('authgate_session'));
  });

  test('session fixation: a session id planted before sign-in is never the one signed in', async () => {
    const browser = new HttpBrowser();
    const planted = 'planted-by-the-attacker-0123456789abcdefghijklm';
    browser.cookies.push({ name: 'authgate_session', value: planted, path: '/' });
    const first = await browser.request(`${publicUrl}/`);
    // The stale cookie is cleared on the way to the provider.
    expect(setCookies(first)).toContain(
      'authgate_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax',
    );
    const loginCookie = browser.cookies.find((c) => c.name.startsWith('authgate_session_login_'))!;
    browser.cookies.push({ name: 'authgate_session', value: planted, path: '/' });
    const back = await browser.request(
      await browser.atProvider(first.headers.location as string, 'alice'),
    );
    expect(back.status).toBe(302);
    const issued = browser.cookie('authgate_session')!;
    expect(issued).not.toBe(planted);
    const xhr = { Accept: 'application/json', 'Sec-Fetch-Mode': 'cors' };
    for (const value of [planted, loginCookie.value]) {
      // Neither the planted id nor the pre-sign-in cookie is a session.
      const other = new HttpBrowser();
      other.cookies.push({ name: 'authgate_session', value, path: '/' });
      expect((await other.request(`${publicUrl}/x`, { headers: xhr })).status).toBe(401);
    }
  });

  test("the session's tenants are checked like a token's", async () => {
    const alice = await signedIn('alice');
    const xhr = { Accept: 'application/json', 'Sec-Fetch-Mode': 'cors' };
    expect(
      (await alice.request(`${publicUrl}/t`, { headers: { ...xhr, 'X-Tenant-ID': 'acme' } }))
        .status,
    ).toBe(200);
    const other = await alice.request(`${publicUrl}/t`, {
      headers: { ...xhr, 'X-Tenant-ID': 'beta' },
    });
    expect(other.status).toBe(403);
    expect(json(other).error_code).toBe('TENANT_FORBIDDEN');
  });

  test('the access token, the code and the session id never reach a log line', async () => {
    const browser = new HttpBrowser();
    const before = upstream.seen.length;
    const first = await browser.request(`${publicUrl}/`);
    const callback = await browser.atProvider(first.headers.location as string, 'alice');
    const code = new URL(callback).searchParams.get('code')!;
    await browser.request(callback);
    await browser.request(`${publicUrl}/logged`);
    const token = header(upstream.seen[before]!, 'authorization')[0]!.slice(7);
    const text = proxy.logs.text();
    expect(text).toContain('"sign-in"');
    for (const secret of [token, code, browser.cookie('authgate_session')!])
      expect(text).not.toContain(secret);
  });

  test('group scopes decide: a viewer may read but not write', async () => {
    const bob = await signedIn('bob');
    expect((await bob.request(`${publicUrl}/runs`)).status).toBe(200);
    const write = await bob.request(`${publicUrl}/runs`, {
      method: 'POST',
      headers: { Origin: publicUrl, Accept: 'application/json', 'Sec-Fetch-Mode': 'cors' },
      body: '{}',
    });
    expect(write.status).toBe(403);
    expect(json(write).error_code).toBe('INSUFFICIENT_SCOPE');
  });

  describe('CSRF: a state-changing request with the session cookie', () => {
    let alice: HttpBrowser;
    beforeAll(async () => {
      alice = await signedIn('alice');
    });

    test.each([
      ['no Origin and no Referer', {}],
      ['another Origin', { Origin: 'https://evil.example' }],
      ['Origin null', { Origin: 'null' }],
      ['another Referer', { Referer: 'https://evil.example/form' }],
      ['a same-host Referer on another port', { Referer: 'http://127.0.0.1:1/x' }],
    ])(
      'with %s is refused with 403 CSRF_REJECTED and never reaches the upstream',
      async (_w, headers) => {
        for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
          const before = upstream.seen.length;
          const res = await alice.request(`${publicUrl}/runs/1`, {
            method,
            headers: { Accept: 'application/json', 'Sec-Fetch-Mode': 'cors', ...headers },
            body: '{}',
          });
          expect([res.status, res.body.toString()]).toEqual([
            403,
            expect.stringContaining('"CSRF_REJECTED"'),
          ]);
          expect(upstream.seen.length).toBe(before);
        }
      },
    );

    test.each([
      ['its own Origin', { Origin: '' }],
      ['its own Referer', { Referer: '' }],
    ])('with %s is let through', async (_w, headers) => {
      const h = Object.fromEntries(
        Object.entries(headers).map(([k]) => [k, k === 'Origin' ? publicUrl : `${publicUrl}/page`]),
      );
      const res = await alice.request(`${publicUrl}/runs/1`, {
        method: 'POST',
        headers: { Accept: 'application/json', 'Sec-Fetch-Mode': 'cors', ...h },
        body: '{}',
      });
      expect(res.status).toBe(200);
    });
  });

  describe('tampering with the callback', () => {
    async function started(): Promise<{ browser: HttpBrowser; callback: string }> {
      const browser = new HttpBrowser();
      const first = await browser.request(`${publicUrl}/`);
      return {
        browser,
        callback: await browser.atProvider(first.headers.location as string, 'alice'),
      };
    }

    let upstreamBefore = 0;
    beforeEach(() => {
      upstreamBefore = upstream.seen.length;
    });
    afterEach(() => {
      // The callback is authgate's own: nothing of it ever reaches the upstream.
      expect(upstream.seen.length).toBe(upstreamBefore);
    });

    function refusedWithoutSession(res: RawResponse, reason?: RegExp): void {
      expect(res.status).toBe(401);
      expect(setCookies(res).some((c) => c.startsWith('authgate_session='))).toBe(false);
      if (reason) {
        const line = proxy.logs
          .entries()
          .reverse()
          .find((e) => e.message === 'sign-in');
        expect(String(line?.reason)).toMatch(reason);
      }
    }

    test('a missing state: 401 LOGIN_FAILED (a page for a browser, JSON otherwise)', async () => {
      const { browser, callback } = await started();
      const url = new URL(callback);
      url.searchParams.delete('state');
      const page = await browser.request(url.href);
      refusedWithoutSession(page, /^state_missing$/);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      expect(page.body.toString()).toContain('LOGIN_FAILED');
      const api = await browser.request(url.href, { headers: { Accept: 'application/json' } });
      expect(json(api).error_code).toBe('LOGIN_FAILED');
    });

    test('a wrong state: refused before the code is redeemed', async () => {
      const { browser, callback } = await started();
      const codes = (await idp.events()).code;
      const url = new URL(callback);
      url.searchParams.set('state', 'forged-state-value-0123456789');
      refusedWithoutSession(await browser.request(url.href), /^state_unknown$/);
      expect((await idp.events()).code).toBe(codes);
      // The real callback still works afterwards.
      expect((await browser.request(callback)).status).toBe(302);
    });

    test("another browser's state (login CSRF) is refused", async () => {
      const victim = await started();
      const attacker = await started();
      refusedWithoutSession(await victim.browser.request(attacker.callback), /^state_unknown$/);
    });

    test('a code replayed is refused and makes no second session', async () => {
      const { browser, callback } = await started();
      expect((await browser.request(callback)).status).toBe(302);
      // The browser's own replay: its pre-sign-in cookie is gone.
      refusedWithoutSession(await browser.request(callback), /^state_unknown$/);
    });

    test('a code replayed with the pre-sign-in cookie kept is refused by the provider', async () => {
      const { browser, callback } = await started();
      const kept = browser.cookies.map((c) => ({ ...c }));
      expect((await browser.request(callback)).status).toBe(302);
      const thief = new HttpBrowser();
      thief.cookies = kept.filter((c) => c.name.startsWith('authgate_session_login_'));
      refusedWithoutSession(await thief.request(callback), /^provider_invalid_grant$/);
    });

    test.each<[string, (u: URL) => void]>([
      ['an empty code', (u) => u.searchParams.set('code', '')],
      ['two codes', (u) => u.searchParams.append('code', 'second')],
      ['another issuer in iss', (u) => u.searchParams.set('iss', 'https://evil.example')],
      ['a forged code', (u) => u.searchParams.set('code', 'forged-code-0123456789')],
    ])('a callback with %s is LOGIN_FAILED, and the process stays up', async (_w, craft) => {
      const { browser, callback } = await started();
      const url = new URL(callback);
      craft(url);
      const res = await browser.request(url.href, { headers: { Accept: 'application/json' } });
      refusedWithoutSession(res);
      expect(json(res).error_code).toBe('LOGIN_FAILED');
      expect((await fetch(`${publicUrl}/healthz`)).status).toBe(200);
    });

    test('an error from the provider is LOGIN_FAILED with its reason', async () => {
      const { browser, callback } = await started();
      const url = new URL(callback);
      url.searchParams.delete('code');
      url.searchParams.set('error', 'access_denied');
      refusedWithoutSession(await browser.request(url.href), /^provider_access_denied$/);
    });

    test.each([
      '//evil.example/x',
      '/\\evil.example',
      '/%5Cevil.example/../',
      'https://evil.example/',
    ])('a crafted return target %s lands on / of authgate', async (target) => {
      const browser = new HttpBrowser();
      const first = await rawRequest(publicUrl, {
        path: target,
        headers: ['Host', new URL(publicUrl).host, 'Accept', 'text/html'],
      });
      if (first.status !== 302) {
        // Refused outright (400): nothing to return to.
        expect(first.status).toBe(400);
        return;
      }
      const loginCookie = setCookies(first)[0]!.split(';')[0]!.split('=');
      browser.cookies.push({
        name: loginCookie[0]!,
        value: loginCookie[1]!,
        path: '/oauth2/callback',
      });
      const callback = await browser.atProvider(first.headers.location as string, 'alice');
      const back = await browser.request(callback);
      expect(back.status).toBe(302);
      expect(back.headers.location).toBe('/');
    });
  });

  test('logout ends the session and signs out at the provider', async () => {
    const browser = await signedIn('alice');
    const res = await browser.request(`${publicUrl}/oauth2/logout`);
    expect(res.status).toBe(302);
    const to = new URL(res.headers.location as string);
    expect(to.origin).toBe(idp.issuer);
    expect(to.searchParams.get('post_logout_redirect_uri')).toBe(`${publicUrl}/`);
    expect(to.searchParams.get('id_token_hint')).toMatch(/^ey/);
    expect(browser.cookie('authgate_session')).toBeUndefined();
    const line = proxy.logs
      .entries()
      .reverse()
      .find((e) => e.message === 'sign-out');
    expect(line).toMatchObject({ type: 'audit', user_id: 'alice' });
  });

  test('a session ended by logout does not authenticate a copied cookie', async () => {
    const browser = await signedIn('alice');
    const copy = browser.cookie('authgate_session')!;
    await browser.request(`${publicUrl}/oauth2/logout`);
    const res = await rawRequest(publicUrl, {
      path: '/experiments',
      headers: [
        'Host',
        'authgate.test',
        'Cookie',
        `authgate_session=${copy}`,
        'Accept',
        'application/json',
      ],
    });
    expect(res.status).toBe(401);
    expect(
      proxy.logs
        .entries()
        .reverse()
        .find((e) => e.type === 'audit' && e.decision === 'deny'),
    ).toMatchObject({ reason: 'session_ended', auth_method: 'session' });
  });

  test('the access token is refreshed before it expires, once for concurrent requests; refresh tokens rotate', async () => {
    const browser = await signedIn('alice');
    const before = await idp.events();
    const first = upstream.seen.length;
    await browser.request(`${publicUrl}/a`);
    const oldToken = header(upstream.seen[first]!, 'authorization')[0];
    // 300 s access tokens, refreshed 60 s before: 250 s later the next request refreshes.
    await clock.advance(250_000);
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        browser.request(`${publicUrl}/b${i}`, { headers: { Accept: 'application/json' } }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
    const after = await idp.events();
    expect(after.refresh - before.refresh).toBe(1);
    expect(after.revoked).toBe(before.revoked);
    const tokens = new Set(
      upstream.seen.slice(first + 1).map((s) => header(s, 'authorization')[0]),
    );
    expect(tokens.size).toBe(1);
    expect(tokens.has(oldToken)).toBe(false);
    // A second refresh uses the rotated refresh token: the provider accepts it (no reuse).
    await clock.advance(250_000);
    expect((await browser.request(`${publicUrl}/c`)).status).toBe(200);
    const last = await idp.events();
    expect(last.refresh - before.refresh).toBe(2);
    expect(last.refresh_error).toBe(before.refresh_error);
  });

  test('a grant revoked at the provider ends the session at the next refresh; the browser signs in again', async () => {
    const browser = await signedIn('bob');
    expect((await browser.request(`${publicUrl}/x`)).status).toBe(200);
    await idp.revoke('bob');
    await clock.advance(250_000);
    const xhr = await browser.request(`${publicUrl}/x`, {
      headers: { Accept: 'application/json', 'Sec-Fetch-Mode': 'cors' },
    });
    expect(xhr.status).toBe(401);
    const nav = await browser.request(`${publicUrl}/x`);
    expect(nav.status).toBe(302);
    expect(new URL(nav.headers.location as string).origin).toBe(idp.issuer);
    const line = proxy.logs
      .entries()
      .reverse()
      .find((e) => e.message === 'session refresh');
    expect(line).toMatchObject({
      decision: 'deny',
      reason: 'provider_invalid_grant',
      user_id: 'bob',
    });
  });

  test('idle and absolute timeouts end a session', async () => {
    const idle = await signedIn('alice');
    await clock.advance(28_800_000 + 1000);
    expect(
      (await idle.request(`${publicUrl}/x`, { headers: { Accept: 'application/json' } })).status,
    ).toBe(401);
  });

  test('metrics count sign-ins and active sessions', async () => {
    await signedIn('alice');
    const res = await fetch(`${publicUrl}/metrics`);
    const text = await res.text();
    expect(text).toMatch(/authgate_logins_total\{result="success"\} [1-9]\d*/);
    expect(text).toMatch(/authgate_logins_total\{result="failed"\} [1-9]\d*/);
    expect(text).toMatch(/authgate_sessions_active [1-9]\d*/);
  });
});

describe('browser sign-in while the provider is down', () => {
  let upstream: TestUpstream;
  let proxy: TestProxy;

  beforeAll(async () => {
    upstream = await startUpstream();
    proxy = await startProxy({
      auth: {
        oidc: {
          issuer: `http://127.0.0.1:${await freePort()}`,
          clientId: IDP_CLIENT.clientId,
          clientSecret: IDP_CLIENT.clientSecret,
          publicUrl: 'http://127.0.0.1:8080',
          session: { cookieSecure: false },
        },
      },
      routes: [
        { name: 'ui', prefix: '/', upstream: upstream.url, auth: 'required', login: 'browser' },
      ],
    });
  });
  afterAll(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  test('authgate starts anyway; a navigation gets the typed 503, and a warn line says why', async () => {
    expect(proxy.logs.text()).toContain(
      'sign-in provider discovery failed; retried on first sign-in',
    );
    const res = await new HttpBrowser().request(`${proxy.url}/`);
    expect(res.status).toBe(503);
    expect(json(res)).toMatchObject({ error_code: 'AUTH_SERVICE_UNAVAILABLE' });
    expect(proxy.logs.entries().some((e) => e.message === 'sign-in provider unavailable')).toBe(
      true,
    );
    expect(upstream.seen).toHaveLength(0);
  });
});
