import request from 'supertest';
import { sign } from '../helpers/jwks';
import { REDIS_URL, uniquePrefix } from '../helpers/redis';
import {
  route,
  startProxy,
  startUpstream,
  waitForRedis,
  type TestProxy,
  type TestUpstream,
} from '../helpers/servers';

const SECRET = 'ratelimit-test-secret-0123456789abcdefg';
const tokenFor = (sub: string, tenants = ['t1']): string =>
  sign(SECRET, { iss: 'rl', sub, claims: { tenant_ids: tenants } });
const auth = {
  jwt: { issuers: [{ issuer: 'rl', audience: 'api', algorithms: ['HS256'], secret: SECRET }] },
};

/** Status of one GET with a bearer token (and a tenant header when given). */
async function statusOf(
  base: string,
  path: string,
  token: string,
  tenant?: string,
): Promise<number> {
  const req = request(base).get(path).set('Authorization', `Bearer ${token}`);
  return (await (tenant === undefined ? req : req.set('X-Tenant-ID', tenant))).status;
}

describe('per-route rate limits', () => {
  let upstream: TestUpstream;
  let a: TestProxy;
  let b: TestProxy;

  beforeAll(async () => {
    upstream = await startUpstream();
    const config = {
      redis: { url: REDIS_URL, keyPrefix: uniquePrefix() },
      auth,
      routes: [
        route(upstream.url, {
          name: 'by-user',
          prefix: '/u',
          auth: 'required',
          rateLimit: { requestsPerMinute: 3, by: 'principal' },
        }),
        route(upstream.url, {
          name: 'by-tenant',
          prefix: '/t',
          auth: 'required',
          rateLimit: { requestsPerMinute: 2, by: 'tenant' },
        }),
        route(upstream.url, {
          name: 'by-ip',
          prefix: '/ip',
          auth: 'none',
          rateLimit: { requestsPerMinute: 2, by: 'ip' },
        }),
      ],
    };
    a = await startProxy(config);
    b = await startProxy(config);
    await Promise.all([a, b].map(waitForRedis));
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await upstream.close();
  });

  it('per principal: the 4th request in a minute is 429 RATE_LIMITED with Retry-After; others unaffected', async () => {
    const alice = tokenFor(`alice-${Date.now()}`);
    for (let i = 0; i < 3; i++) expect(await statusOf(a.url, '/u', alice)).toBe(200);
    const limited = await request(a.url).get('/u').set('Authorization', `Bearer ${alice}`);
    expect(limited.status).toBe(429);
    expect(limited.body.error_code).toBe('RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(
      (
        await request(a.url)
          .get('/u')
          .set('Authorization', `Bearer ${tokenFor(`bob-${Date.now()}`)}`)
      ).status,
    ).toBe(200);
    const metrics = (await request(`http://127.0.0.1:${a.running.metricsPort}`).get('/metrics'))
      .text;
    expect(metrics).toMatch(/authgate_rate_limited_total\{route="by-user",by="principal"\} 1/);
  });

  it('is shared by instances through Redis', async () => {
    const carol = tokenFor(`carol-${Date.now()}`);
    expect(await statusOf(a.url, '/u', carol)).toBe(200);
    expect(await statusOf(b.url, '/u', carol)).toBe(200);
    expect(await statusOf(a.url, '/u', carol)).toBe(200);
    expect(await statusOf(b.url, '/u', carol)).toBe(429);
  });

  it('per tenant: two users of one tenant share the budget', async () => {
    const tenant = `tenant-${Date.now()}`;
    const u1 = tokenFor('u1', [tenant]);
    const u2 = tokenFor('u2', [tenant]);
    expect(await statusOf(a.url, '/t', u1, tenant)).toBe(200);
    expect(await statusOf(a.url, '/t', u2, tenant)).toBe(200);
    expect(await statusOf(a.url, '/t', u2, tenant)).toBe(429);
  });

  it('per IP on a public route', async () => {
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await request(b.url).get('/ip')).status);
    expect(statuses).toEqual([200, 200, 429]);
  });
});
