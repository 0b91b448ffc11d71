/**
 * unlimited bad keys reached the auth service. `auth.failedAuthGuard` counts
 * failed authentications per client address; past the limit the address gets 429
 * RATE_LIMITED with Retry-After before any signature check or auth-service call.
 */
import request from 'supertest';
import { startAuthService, type AuthService } from '../../helpers/auth-service';
import { sign } from '../../helpers/jwks';
import { REDIS_URL, uniquePrefix } from '../../helpers/redis';
import {
  route,
  startProxy,
  startUpstream,
  waitForRedis,
  type TestProxy,
  type TestUpstream,
} from '../../helpers/servers';

const SECRET = 'failed-auth-guard-secret-0123456789abc';

describe('the failed-authentication guard', () => {
  let service: AuthService;
  let upstream: TestUpstream;
  let a: TestProxy;
  let b: TestProxy;
  beforeAll(async () => {
    service = await startAuthService();
    service.keys.set('hok_good', { user_id: 'u' });
    upstream = await startUpstream();
    const config = {
      server: { trustedProxies: ['127.0.0.1'] },
      redis: { url: REDIS_URL, keyPrefix: uniquePrefix() },
      auth: {
        failedAuthGuard: { maxFailures: 3, windowSec: 60 },
        jwt: { issuers: [{ issuer: 'g', algorithms: ['HS256'], secret: SECRET }] },
        apiKeys: { prefixes: ['hok_'], validateUrl: service.url },
      },
      routes: [route(upstream.url, { auth: 'required' })],
    };
    a = await startProxy(config);
    b = await startProxy(config);
    await Promise.all([a, b].map(waitForRedis));
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await upstream.close();
    await service.close();
  });
  const from = (p: TestProxy, ip: string) => ({
    key: (key: string) => request(p.url).get('/x').set('X-Forwarded-For', ip).set('X-API-Key', key),
    token: (t: string) =>
      request(p.url).get('/x').set('X-Forwarded-For', ip).set('Authorization', `Bearer ${t}`),
    none: () => request(p.url).get('/x').set('X-Forwarded-For', ip),
  });

  it('past the limit: 429 with Retry-After, no auth-service call, even for a good key not verified before', async () => {
    const c = from(a, '203.0.113.1');
    for (let i = 0; i < 3; i++) expect((await c.key(`hok_bad_${i}`)).status).toBe(401);
    const calls = service.calls;
    for (const key of ['hok_bad_more', 'hok_good']) {
      const res = await c.key(key);
      expect(res.status).toBe(429);
      expect(res.body.error_code).toBe('RATE_LIMITED');
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    }
    expect(service.calls).toBe(calls);
    const audit = a.logs.entries().filter((e) => e.reason === 'failed_auth_guard');
    expect(audit.length).toBeGreaterThanOrEqual(2);
  });

  it('counts per client address: another address is untouched', async () => {
    expect((await from(a, '203.0.113.2').key('hok_good')).status).toBe(200);
  });

  it('bad JWT signatures count too, and are refused before verification', async () => {
    const c = from(a, '203.0.113.3');
    const forged = sign('another-secret-0123456789abcdefghijkl', { iss: 'g' });
    for (let i = 0; i < 3; i++) expect((await c.token(forged)).status).toBe(401);
    expect((await c.token(sign(SECRET, { iss: 'g' }))).status).toBe(429);
  });

  it('requests without a credential are not counted', async () => {
    const c = from(a, '203.0.113.4');
    for (let i = 0; i < 5; i++) expect((await c.none()).status).toBe(401);
    expect((await c.key('hok_good')).status).toBe(200);
  });

  it('is shared through Redis: another instance refuses after at most one more try', async () => {
    const ip = '203.0.113.5';
    for (let i = 0; i < 3; i++) expect((await from(a, ip).key(`hok_x_${i}`)).status).toBe(401);
    const first = await from(b, ip).key('hok_x_b');
    expect([401, 429]).toContain(first.status);
    expect((await from(b, ip).key('hok_good')).status).toBe(429);
  });

  it('a credential that already verified still gets through a blocked address; one warning', async () => {
    const ip = '203.0.113.6';
    const c = from(a, ip);
    service.keys.set('hok_steady', { user_id: 'steady' });
    const token = sign(SECRET, { iss: 'g', sub: 'steady-jwt' });
    expect((await c.key('hok_steady')).status).toBe(200);
    expect((await c.token(token)).status).toBe(200);
    for (let i = 0; i < 5; i++)
      expect([401, 429]).toContain((await c.key(`hok_buggy_${i}`)).status);
    const calls = service.calls;
    // the verified ones: served from the cache, the address block notwithstanding
    expect((await c.key('hok_steady')).status).toBe(200);
    expect((await c.token(token)).status).toBe(200);
    // anything not verified before is still refused before any check
    expect((await c.key('hok_never_seen')).status).toBe(429);
    expect((await c.token(sign(SECRET, { iss: 'g', sub: 'new-jwt' }))).status).toBe(429);
    expect(service.calls).toBe(calls);
    const warnings = a.logs
      .entries()
      .filter(
        (e) => e.message === 'address blocked after failed authentications' && e.client_ip === ip,
      );
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 'warn', route: expect.any(String) });
  });
});
