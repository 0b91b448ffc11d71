/**
 * `routes[].enforce: shadow`: every check runs and is logged (`decision: would_deny`) and
 * counted (`authgate_shadow_denials_total{route,reason}`), but nothing is refused — and what the
 * client claims about itself never reaches the upstream (only a verified principal's identity).
 */
import request from 'supertest';
import { sign } from '../../helpers/jwks';
import {
  pairs,
  startProxy,
  startUpstream,
  type TestProxy,
  type TestUpstream,
} from '../../helpers/servers';

const SECRET = 'shadow-secret-0123456789abcdefghijklmn';
const token = (scope: string, tenants: string[] = ['t1']) =>
  sign(SECRET, { iss: 'idp', sub: 'alice', claims: { scope, tenant_ids: tenants } });

describe('enforce: shadow', () => {
  let upstream: TestUpstream;
  let proxy: TestProxy;

  beforeAll(async () => {
    upstream = await startUpstream();
    proxy = await startProxy({
      auth: { jwt: { issuers: [{ issuer: 'idp', algorithms: ['HS256'], secret: SECRET }] } },
      routes: [
        {
          name: 'shadow',
          prefix: '/shadow',
          upstream: upstream.url,
          scopes: ['write'],
          enforce: 'shadow',
        },
        { name: 'enforced', prefix: '/enforced', upstream: upstream.url, scopes: ['write'] },
        {
          name: 'limited',
          prefix: '/limited',
          upstream: upstream.url,
          scopes: ['read'],
          enforce: 'shadow',
          rateLimit: { requestsPerMinute: 1, burst: 1 },
        },
      ],
    });
  });
  afterAll(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  const seenHeaders = async () =>
    new Map(pairs((await upstream.nextRequest()).rawHeaders).map(([k, v]) => [k.toLowerCase(), v]));
  const audit = (path: string) =>
    proxy.logs.entries().filter((e) => e.type === 'audit' && e.path === path);
  const metrics = async () =>
    (await request(proxy.url.replace(/:\d+$/, `:${proxy.running.metricsPort}`)).get('/metrics'))
      .text;

  test('the control: the same token is refused where the route enforces', async () => {
    const res = await request(proxy.url)
      .get('/enforced/x')
      .set('Authorization', `Bearer ${token('read')}`);
    expect(res.status).toBe(403);
  });

  test('a missing scope: through, with the verified identity, logged and counted as would_deny', async () => {
    const seen = seenHeaders();
    const res = await request(proxy.url)
      .get('/shadow/a')
      .set('Authorization', `Bearer ${token('read')}`);
    expect(res.status).toBe(200);
    expect((await seen).get('x-user-id')).toBe('alice');
    expect(audit('/shadow/a')).toEqual([
      expect.objectContaining({
        decision: 'would_deny',
        reason: 'missing_scope',
        level: 'warn',
        // The same audit line as any decision: who, how, how long.
        user_id: 'alice',
        auth_method: 'jwt',
        auth_ms: expect.any(Number),
      }),
    ]);
    const access = proxy.logs.entries().find((e) => e.type === 'access' && e.path === '/shadow/a');
    expect(access).toMatchObject({ status: 200, would_deny: 'missing_scope' });
    expect(await metrics()).toMatch(
      /authgate_shadow_denials_total\{route="shadow",reason="missing_scope"\} 1\b/,
    );
  });

  test('no credential and a forged X-User-ID: through, but the upstream gets no identity at all', async () => {
    const seen = seenHeaders();
    const res = await request(proxy.url)
      .get('/shadow/b')
      .set('X-User-ID', 'admin')
      .set('X-Tenant-ID', 'other-tenant');
    expect(res.status).toBe(200);
    const headers = await seen;
    expect(headers.has('x-user-id')).toBe(false);
    expect(headers.has('x-tenant-id')).toBe(false);
    expect(audit('/shadow/b')).toEqual([
      expect.objectContaining({ decision: 'would_deny', reason: 'no_credentials' }),
    ]);
  });

  test("a tenant that is not the token's: through, without the client's tenant or any identity", async () => {
    const seen = seenHeaders();
    const res = await request(proxy.url)
      .get('/shadow/c')
      .set('Authorization', `Bearer ${token('write', ['t1'])}`)
      .set('X-Tenant-ID', 't2');
    expect(res.status).toBe(200);
    const headers = await seen;
    expect(headers.get('x-tenant-id')).toBeUndefined();
    expect(audit('/shadow/c')[0]).toMatchObject({ decision: 'would_deny' });
  });

  test('a rate limit in shadow: the request over the limit goes through, counted', async () => {
    const t = token('read');
    const first = await request(proxy.url).get('/limited/1').set('Authorization', `Bearer ${t}`);
    const second = await request(proxy.url).get('/limited/2').set('Authorization', `Bearer ${t}`);
    expect([first.status, second.status]).toEqual([200, 200]);
    const access = proxy.logs.entries().find((e) => e.type === 'access' && e.path === '/limited/2');
    expect(access).toMatchObject({ would_deny: 'rate_limited' });
    expect(await metrics()).toMatch(
      /authgate_shadow_denials_total\{route="limited",reason="rate_limited"\} 1\b/,
    );
  });

  test('check-config refuses another value', async () => {
    await expect(
      startProxy({
        routes: [
          { name: 'r', prefix: '/', upstream: upstream.url, auth: 'none', enforce: 'maybe' },
        ],
      }),
    ).rejects.toThrow(/routes\[0\]\.enforce: must be true or "shadow"/);
  });
});
