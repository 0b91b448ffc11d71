/**
 * a 4xx answer about one key (400, 422) counted as a service failure, so five
 * malformed keys from one client opened the circuit breaker and took API-key auth away from
 * every user for 10 s; common shapes of a valid answer were refused as an outage.
 * a lookup in flight when a key was revoked wrote its "valid" verdict back.
 */
import request from 'supertest';
import { apiKeyId, redisKeyFor } from '../../../src/auth/api-key';
import { startAuthService, type AuthService } from '../../helpers/auth-service';
import { REDIS_URL, redisKeys, uniquePrefix } from '../../helpers/redis';
import {
  pairs,
  route,
  startProxy,
  startUpstream,
  waitForRedis,
  type TestProxy,
  type TestUpstream,
} from '../../helpers/servers';

const HASH_SECRET = 'hardening-hash-secret-0123456789abcdef';

describe('the auth service answers', () => {
  let service: AuthService;
  let upstream: TestUpstream;
  let proxy: TestProxy;
  beforeAll(async () => {
    service = await startAuthService();
    upstream = await startUpstream();
    proxy = await startProxy({
      auth: {
        failedAuthGuard: { maxFailures: 0 },
        apiKeys: { prefixes: ['hok_'], validateUrl: service.url, timeoutMs: 500, retries: 1 },
      },
      routes: [route(upstream.url, { auth: 'required', scopes: ['read'] })],
    });
  });
  afterAll(async () => {
    await proxy.close();
    await upstream.close();
    await service.close();
  });
  afterEach(() => {
    service.reply = undefined;
  });
  const get = (key: string) => request(proxy.url).get('/x').set('X-API-Key', key);
  const breaker = () => proxy.running.auth!.apiKeys!.service.breaker;

  it.each([400, 422, 401, 403, 404, 410])(
    "%i about one key is that key's verdict: 401, the breaker stays closed",
    async (status) => {
      service.reply = { status, body: '{"error":"malformed key"}' };
      for (let i = 0; i < 7; i++) {
        const res = await get(`hok_malformed_${status}_${i}`);
        expect(res.status).toBe(401);
        expect(res.body.error_code).toBe('API_KEY_INVALID');
      }
      expect(breaker().state).toBe('closed');
      service.reply = undefined;
      service.keys.set(`hok_good_${status}`, { user_id: 'u', scopes: ['read'] });
      expect((await get(`hok_good_${status}`)).status).toBe(200);
    },
  );

  it.each([408, 429])('%i is "later": 503, retried, never opens the breaker', async (status) => {
    service.reply = { status, body: '' };
    for (let i = 0; i < 6; i++) {
      const res = await get(`hok_later_${status}_${i}`);
      expect(res.status).toBe(503);
      expect(res.body.error_code).toBe('AUTH_SERVICE_UNAVAILABLE');
    }
    expect(breaker().state).toBe('closed');
  });

  it('accepts space-separated scopes and tenant_ids, and a numeric user_id', async () => {
    service.reply = {
      status: 200,
      body: JSON.stringify({ valid: true, user_id: 42, scopes: 'read write', tenant_ids: 't1 t2' }),
    };
    const res = await get('hok_shapes_1').set('X-Tenant-ID', 't2');
    expect(res.status).toBe(200);
    expect(pairs(upstream.seen[upstream.seen.length - 1]!.rawHeaders)).toContainEqual([
      'X-User-ID',
      '42',
    ]);
  });

  it.each([
    ['user_id', { valid: true, user_id: { id: 1 } }],
    ['scopes', { valid: true, user_id: 'u', scopes: { read: true } }],
    ['expires_at', { valid: true, user_id: 'u', expires_at: 'tomorrow' }],
    ['valid', { ok: true }],
  ])(
    'an answer breaking the contract at %s: 401, a warning naming the field, no outage',
    async (field, body) => {
      service.reply = { status: 200, body: JSON.stringify(body) };
      proxy.logs.lines.length = 0;
      const res = await get(`hok_breach_${field}`);
      expect(res.status).toBe(401);
      const warning = proxy.logs
        .entries()
        .find((e) => e.level === 'warn' && String(e.message).includes('contract'));
      expect(warning).toMatchObject({ field });
      expect(breaker().state).toBe('closed');
    },
  );

  it('an unparseable 200 body is a contract breach, not an outage', async () => {
    service.reply = { status: 200, body: '<html>gateway</html>' };
    const res = await get('hok_breach_html');
    expect(res.status).toBe(401);
  });

  it('5xx still opens the breaker', async () => {
    service.reply = { status: 500, body: '' };
    for (let i = 0; i < 5; i++) await get(`hok_down_${i}`);
    expect(breaker().state).toBe('open');
  });
});

describe('revocation wins over a lookup in flight', () => {
  let service: AuthService;
  let upstream: TestUpstream;
  let a: TestProxy;
  let b: TestProxy;
  const prefix = uniquePrefix();
  beforeAll(async () => {
    service = await startAuthService();
    upstream = await startUpstream();
    const config = {
      redis: { url: REDIS_URL, keyPrefix: prefix },
      auth: {
        apiKeys: {
          prefixes: ['hok_'],
          validateUrl: service.url,
          hashSecret: HASH_SECRET,
          timeoutMs: 2000,
        },
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

  it.each([
    ['on the same instance', () => a],
    ['on another instance', () => b],
  ])(
    'revoked %s while the service answers: nothing cached, the next request asks again',
    async (_n, revoker) => {
      const key = `hok_revoked_${Math.random().toString(36).slice(2)}`;
      service.keys.set(key, { user_id: 'u1' });
      service.delayMs = 300;
      const inFlight = request(a.url)
        .get('/x')
        .set('X-API-Key', key)
        .then((r) => r);
      await new Promise((r) => setTimeout(r, 100));
      await revoker().running.auth!.apiKeys!.revoke(key);
      const res = await inFlight;
      service.delayMs = 0;
      expect(res.status).toBe(401);
      const id = apiKeyId(HASH_SECRET, key);
      const stored = (await redisKeys(prefix)).filter(([k]) => k === redisKeyFor(prefix, id));
      expect(stored).toEqual([]);
      const calls = service.calls;
      expect((await request(a.url).get('/x').set('X-API-Key', key)).status).toBe(200);
      expect(service.calls).toBe(calls + 1);
    },
  );
});
