/**
 * Sessions in Redis: two authgate instances on one Redis share them, a restart keeps them, the
 * tokens are sealed at rest, a refresh happens once across instances (a rotated refresh token
 * used twice would make the provider revoke the whole grant), and `authgate session list |
 * revoke` reaches every instance.
 */
import { Redis } from 'ioredis';
import { HttpBrowser, IDP_CLIENT, startIdp, type Idp } from '../../helpers/idp';
import { ManualClock } from '../../helpers/manual-clock';
import { runCli, writeConfig } from '../../helpers/process';
import { REDIS_URL, uniquePrefix } from '../../helpers/redis';
import { waitFor } from '../../helpers/wait';
import {
  freePort,
  pairs,
  startProxy,
  startUpstream,
  waitForRedis,
  type TestProxy,
  type TestUpstream,
} from '../../helpers/servers';

describe('browser sessions shared through Redis', () => {
  let idp: Idp;
  let upstream: TestUpstream;
  let a: TestProxy;
  let b: TestProxy;
  let portA: number;
  let publicUrl: string;
  let urlB: string;
  let config: Record<string, unknown>;
  const clock = new ManualClock();
  const prefix = uniquePrefix();

  async function start(port: number): Promise<TestProxy> {
    const proxy = await startProxy(config, { clock }, {}, port);
    await waitForRedis(proxy);
    return proxy;
  }

  beforeAll(async () => {
    portA = await freePort();
    const portB = await freePort();
    publicUrl = `http://127.0.0.1:${portA}`;
    urlB = `http://127.0.0.1:${portB}`;
    idp = await startIdp({
      publicUrls: [publicUrl],
      accessTokenTtl: 300,
      accounts: { alice: { groups: ['readers'], tenant_ids: ['acme'] } },
    });
    upstream = await startUpstream();
    config = {
      redis: { url: REDIS_URL, keyPrefix: prefix },
      auth: {
        oidc: {
          issuer: idp.issuer,
          clientId: IDP_CLIENT.clientId,
          clientSecret: IDP_CLIENT.clientSecret,
          publicUrl,
          session: { cookieSecure: false },
          groupScopes: { map: { readers: ['read'] } },
        },
      },
      routes: [
        {
          name: 'ui',
          prefix: '/',
          upstream: upstream.url,
          auth: 'required',
          login: 'browser',
          scopes: ['read'],
        },
      ],
    };
    a = await start(portA);
    b = await start(portB);
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await upstream?.close();
    await idp?.stop();
  });

  const xhr = { Accept: 'application/json', 'Sec-Fetch-Mode': 'cors' };

  test('a session made on one instance is seen by the other, and survives a restart', async () => {
    const browser = new HttpBrowser();
    expect((await browser.signIn(`${publicUrl}/`, 'alice')).status).toBe(302);
    const before = upstream.seen.length;
    expect((await browser.request(`${urlB}/runs`, { headers: xhr })).status).toBe(200);
    expect(pairs(upstream.seen[before]!.rawHeaders)).toContainEqual(['X-User-ID', 'alice']);

    await a.close();
    a = await start(portA);
    expect((await browser.request(`${publicUrl}/runs`, { headers: xhr })).status).toBe(200);
  });

  test('at rest the session is sealed: no token in Redis, and the key is not the cookie', async () => {
    const browser = new HttpBrowser();
    await browser.signIn(`${publicUrl}/`, 'alice');
    const before = upstream.seen.length;
    await browser.request(`${publicUrl}/x`, { headers: xhr });
    const token = pairs(upstream.seen[before]!.rawHeaders).find(([n]) => n === 'Authorization')![1];
    const id = browser.cookie('authgate_session')!;
    const r = new Redis(REDIS_URL);
    try {
      const keys = await r.keys(`${prefix}session:*`);
      expect(keys.length).toBeGreaterThanOrEqual(1);
      const dump = JSON.stringify([keys, await r.mget(...keys)]);
      expect(dump).not.toContain(token.slice(7));
      expect(dump).not.toContain(id);
      // Every instance counts the same sessions (authgate_sessions_active).
      expect(await r.zcard(`${prefix}sessions`)).toBeGreaterThanOrEqual(1);
    } finally {
      r.disconnect();
    }
  });

  test('concurrent requests on both instances refresh the access token once', async () => {
    const browser = new HttpBrowser();
    await browser.signIn(`${publicUrl}/`, 'alice');
    const before = await idp.events();
    await clock.advance(250_000);
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        browser.request(`${i % 2 === 0 ? publicUrl : urlB}/r${i}`, { headers: xhr }),
      ),
    );
    expect(answers.map((r) => r.status)).toEqual(Array(12).fill(200));
    const after = await idp.events();
    expect(after.refresh - before.refresh).toBe(1);
    expect(after.refresh_error).toBe(before.refresh_error);
    expect(after.revoked).toBe(before.revoked);
  });

  test("authgate session list / revoke show and end a user's sessions on every instance", async () => {
    const browser = new HttpBrowser();
    await browser.signIn(`${publicUrl}/`, 'alice');
    // Both instances have the session in memory (they read Redis at most every few seconds).
    for (const url of [publicUrl, urlB])
      expect((await browser.request(`${url}/x`, { headers: xhr })).status).toBe(200);
    const file = writeConfig(config);
    const listed = await runCli(['session', 'list', '--user', 'alice', '--json', '--config', file]);
    expect(listed.code).toBe(0);
    const sessions = JSON.parse(listed.stdout) as Array<{ handle: string; userId: string }>;
    expect(sessions.length).toBeGreaterThanOrEqual(1);
    expect(sessions.every((s) => s.userId === 'alice' && /^[\w-]{12}$/.test(s.handle))).toBe(true);
    expect(listed.stdout).not.toContain(browser.cookie('authgate_session'));

    const revoked = await runCli(['session', 'revoke', '--user', 'alice', '--config', file]);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(/ended [1-9]\d* session\(s\) of alice/);
    const audit = revoked.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(audit).toEqual([
      expect.objectContaining({ type: 'audit', message: 'session revoke', user_id: 'alice' }),
    ]);
    for (const url of [publicUrl, urlB]) {
      expect((await browser.request(`${url}/x`, { headers: xhr })).status).toBe(401);
    }
    const nav = await browser.request(`${urlB}/x`);
    expect(nav.status).toBe(302);
    const after = await runCli(['session', 'list', '--user', 'alice', '--config', file]);
    expect(after.stdout).toContain('no sessions for alice');
  });

  test('signing out on one instance ends the session on the other at once', async () => {
    const browser = new HttpBrowser();
    await browser.signIn(`${publicUrl}/`, 'alice');
    const cookie = browser.cookie('authgate_session')!;
    expect((await browser.request(`${urlB}/x`, { headers: xhr })).status).toBe(200);
    await browser.request(`${publicUrl}/oauth2/logout`);
    const copy = new HttpBrowser();
    copy.cookies.push({ name: 'authgate_session', value: cookie, path: '/' });
    // The cache's few seconds run on the test's clock, which stands still: only the eviction
    // message can end it on B.
    await waitFor(
      'the other instance to drop the session',
      async () => (await copy.request(`${urlB}/x`, { headers: xhr })).status === 401,
    );
  });

  test('diagnose checks the sign-in provider', async () => {
    const ok = await runCli(['diagnose', '--json', '--config', writeConfig(config)]);
    const checks = JSON.parse(ok.stdout) as {
      checks: Array<{ name: string; ok: boolean; detail: string }>;
    };
    expect(checks.checks.find((c) => c.name === 'oidc provider')).toEqual({
      name: 'oidc provider',
      ok: true,
      detail: 'discovery and keys answer; RP-initiated logout',
    });
    const auth = config.auth as { oidc: Record<string, unknown> };
    const issuer = `http://127.0.0.1:${await freePort()}`;
    const dead = { ...config, auth: { oidc: { ...auth.oidc, issuer } } };
    const down = await runCli(['diagnose', '--json', '--config', writeConfig(dead)]);
    expect(down.code).not.toBe(0);
    const failed = JSON.parse(down.stdout) as typeof checks;
    expect(failed.checks.find((c) => c.name === 'oidc provider')).toMatchObject({
      ok: false,
      detail: 'no answer (ECONNREFUSED)',
    });
  });

  test('session commands without Redis say where the sessions are', async () => {
    const file = writeConfig({ ...config, redis: {} });
    const res = await runCli(['session', 'list', '--user', 'alice', '--config', file]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/no redis configured/);
  });
});
