import request from 'supertest';
import { ManualClock } from '../../helpers/manual-clock';
import { startAuthService, type AuthService } from '../../helpers/auth-service';
import { REDIS_URL, redisKeys, startPrivateRedis, uniquePrefix } from '../../helpers/redis';
import {
  pairs,
  route,
  startProxy,
  startUpstream,
  waitForRedis,
  LogCapture,
  type TestProxy,
  type TestUpstream,
} from '../../helpers/servers';
import { waitFor } from '../../helpers/wait';
import { ApiKeyAuthenticator } from '../../../src/auth/api-key';
import { NOT_RESPONSIBLE } from '../../../src/auth/authenticator';
import { parseConfig } from '../../../src/config/load';
import type { AuthgateError } from '../../../src/errors';
import { createLogger } from '../../../src/logging/logger';
import type { RequestScope } from '../../../src/request-scope';

const HASH_SECRET = 'shared-hash-secret-for-tests-0123456789';
let n = 0;
const newKey = (): string => `hok_test_${Date.now().toString(36)}${(n++).toString(36)}abcdefgh`;

function apiKeyConfig(
  service: AuthService,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    prefixes: ['hok_live_', 'hok_test_'],
    validateUrl: service.url,
    timeoutMs: 300,
    retries: 2,
    hashSecret: HASH_SECRET,
    ...extra,
  };
}

describe('API keys through the auth service, cached in memory and the real Redis', () => {
  let service: AuthService;
  let upstream: TestUpstream;
  let a: TestProxy;
  let b: TestProxy;
  let prefix: string;

  beforeAll(async () => {
    service = await startAuthService();
    upstream = await startUpstream();
    prefix = uniquePrefix();
    const config = {
      redis: { url: REDIS_URL, keyPrefix: prefix },
      auth: { apiKeys: apiKeyConfig(service) },
      routes: [
        route(upstream.url, { auth: 'required', scopes: { GET: ['read'], '*': ['write'] } }),
      ],
    };
    a = await startProxy(config);
    b = await startProxy(config);
    // both instances connected to Redis before the tests start
    await Promise.all([a, b].map(waitForRedis));
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await upstream.close();
    await service.close();
  });

  const get = (p: TestProxy, key: string, via: 'header' | 'bearer' = 'header') =>
    via === 'header'
      ? request(p.url).get('/k').set('X-API-Key', key)
      : request(p.url).get('/k').set('Authorization', `Bearer ${key}`);

  it('accepts a valid key in X-API-Key, forwards the header untouched, sets X-User-ID', async () => {
    const key = newKey();
    service.keys.set(key, { user_id: 'svc-1', tenant_ids: ['t1'], scopes: ['read'] });
    const res = await get(a, key);
    expect(res.status).toBe(200);
    const got = pairs(upstream.seen[upstream.seen.length - 1]!.rawHeaders);
    expect(got).toContainEqual(['X-API-Key', key]);
    expect(got).toContainEqual(['X-User-ID', 'svc-1']);
  });

  it('accepts a valid key as a Bearer token', async () => {
    const key = newKey();
    service.keys.set(key, { user_id: 'svc-2', scopes: ['read'] });
    expect((await get(a, key, 'bearer')).status).toBe(200);
  });

  it('memory hit: the second request does not call the service', async () => {
    const key = newKey();
    service.keys.set(key, { user_id: 'u', scopes: ['read'] });
    const before = service.calls;
    await get(a, key);
    await get(a, key);
    await get(a, key);
    expect(service.calls - before).toBe(1);
  });

  it("Redis hit: a second instance reuses the first one's answer", async () => {
    const key = newKey();
    service.keys.set(key, { user_id: 'u', scopes: ['read'] });
    const before = service.calls;
    expect((await get(a, key)).status).toBe(200);
    expect((await get(b, key)).status).toBe(200);
    expect(service.calls - before).toBe(1);
  });

  it('the raw key never appears in Redis, keys or values', async () => {
    const key = newKey();
    service.keys.set(key, { user_id: 'u', scopes: ['read'] });
    await get(a, key);
    const entries = await redisKeys(prefix);
    expect(entries.length).toBeGreaterThan(0);
    for (const [k, v] of entries) {
      expect(k).not.toContain(key);
      expect(v ?? '').not.toContain(key);
      expect(k).not.toContain('hok_');
    }
  });

  it('negative cache: an unknown key is 401 API_KEY_INVALID and asked for once', async () => {
    const key = newKey();
    const before = service.calls;
    const first = await get(a, key);
    expect(first.status).toBe(401);
    expect(first.body.error_code).toBe('API_KEY_INVALID');
    expect(first.headers['www-authenticate']).toContain('error="invalid_token"');
    expect(first.text).not.toContain(key);
    expect((await get(a, key)).status).toBe(401);
    expect((await get(b, key)).status).toBe(401);
    expect(service.calls - before).toBe(1);
  });

  it('collapses concurrent lookups of one key into one call', async () => {
    const key = newKey();
    service.keys.set(key, { user_id: 'u', scopes: ['read'] });
    service.delayMs = 150;
    try {
      const before = service.calls;
      const statuses = await Promise.all(
        Array.from({ length: 20 }, () => get(a, key).then((r) => r.status)),
      );
      expect(statuses.every((s) => s === 200)).toBe(true);
      expect(service.calls - before).toBe(1);
    } finally {
      service.delayMs = 0;
    }
  });

  it('retries a 5xx with backoff and succeeds', async () => {
    const key = newKey();
    service.keys.set(key, { user_id: 'u', scopes: ['read'] });
    service.failNext = 2;
    const before = service.calls;
    expect((await get(a, key)).status).toBe(200);
    expect(service.calls - before).toBe(3);
  });

  it('revocation through Redis pub/sub reaches every instance', async () => {
    const key = newKey();
    service.keys.set(key, { user_id: 'u', scopes: ['read'] });
    expect((await get(a, key)).status).toBe(200);
    expect((await get(b, key)).status).toBe(200);
    service.keys.delete(key);
    await a.running.auth!.apiKeys!.revoke(key);
    // the revocation reaches the other replica over Redis pub/sub
    await waitFor('the revocation to reach b', async () => (await get(b, key)).status === 401);
    expect((await get(a, key)).status).toBe(401);
  });

  it('scopes and tenants come from the service answer', async () => {
    const key = newKey();
    service.keys.set(key, { user_id: 'u', tenant_ids: ['t1'], scopes: ['read'] });
    expect((await request(a.url).post('/k').set('X-API-Key', key)).body.error_code).toBe(
      'INSUFFICIENT_SCOPE',
    );
    expect((await get(a, key).set('X-Tenant-ID', 't2')).body.error_code).toBe('TENANT_FORBIDDEN');
    expect((await get(a, key).set('X-Tenant-ID', 't1')).status).toBe(200);
  });

  it('an expired expires_at is invalid; a near one caps the cache lifetime', async () => {
    // Its own instance on a driven clock: the key's expiry passes without sleeping.
    const clock = new ManualClock();
    const timed = await startProxy(
      {
        auth: { apiKeys: apiKeyConfig(service) },
        routes: [route(upstream.url, { auth: 'required', scopes: ['read'] })],
      },
      { clock },
    );
    try {
      const gone = newKey();
      service.keys.set(gone, {
        user_id: 'u',
        scopes: ['read'],
        expires_at: Math.floor(clock.now() / 1000) - 5,
      });
      expect((await get(timed, gone)).status).toBe(401);
      const soon = newKey();
      service.keys.set(soon, {
        user_id: 'u',
        scopes: ['read'],
        expires_at: Math.floor(clock.now() / 1000) + 1,
      });
      expect((await get(timed, soon)).status).toBe(200);
      const calls = service.calls;
      expect((await get(timed, soon)).status).toBe(200); // cached
      expect(service.calls).toBe(calls);
      await clock.advance(1100);
      expect((await get(timed, soon)).status).toBe(401);
    } finally {
      await timed.close();
    }
  });

  it('an unknown prefix in X-API-Key is invalid without calling the service', async () => {
    const before = service.calls;
    const res = await get(a, 'sk_other_1234567890');
    expect(res.status).toBe(401);
    expect(res.body.error_code).toBe('API_KEY_INVALID');
    expect(service.calls).toBe(before);
  });
});

describe('auth service failures: 503, never 401, never a pass', () => {
  let service: AuthService;
  let upstream: TestUpstream;
  let proxy: TestProxy;

  beforeAll(async () => {
    service = await startAuthService();
    upstream = await startUpstream();
    proxy = await startProxy({
      auth: { apiKeys: apiKeyConfig(service, { timeoutMs: 200, retries: 1 }) },
      routes: [route(upstream.url, { auth: 'required' })],
    });
  });
  afterAll(async () => {
    await proxy.close();
    await upstream.close();
    await service.close();
  });

  it('404 from the service means invalid', async () => {
    service.mode = 'notfound404';
    try {
      const res = await request(proxy.url).get('/').set('X-API-Key', newKey());
      expect(res.status).toBe(401);
      expect(res.body.error_code).toBe('API_KEY_INVALID');
    } finally {
      service.mode = 'ok';
    }
  });

  it('service down: uncached key → 503 AUTH_SERVICE_UNAVAILABLE; cached key still served', async () => {
    const cached = newKey();
    service.keys.set(cached, { user_id: 'u' });
    expect((await request(proxy.url).get('/').set('X-API-Key', cached)).status).toBe(200);
    service.mode = 'error500';
    try {
      const before = upstream.seen.length;
      const res = await request(proxy.url).get('/').set('X-API-Key', newKey());
      expect(res.status).toBe(503);
      expect(res.body.error_code).toBe('AUTH_SERVICE_UNAVAILABLE');
      expect(res.headers['www-authenticate']).toBeUndefined();
      expect(upstream.seen.length).toBe(before);
      expect((await request(proxy.url).get('/').set('X-API-Key', cached)).status).toBe(200);
    } finally {
      service.mode = 'ok';
    }
  });

  it('service hanging: timeouts → 503', async () => {
    service.mode = 'timeout';
    try {
      const res = await request(proxy.url).get('/').set('X-API-Key', newKey());
      expect(res.status).toBe(503);
      expect(res.body.error_code).toBe('AUTH_SERVICE_UNAVAILABLE');
    } finally {
      service.mode = 'ok';
    }
  });

  it('the circuit opens after repeated failures and stops calling the service', async () => {
    service.mode = 'error500';
    try {
      for (let i = 0; i < 5; i++) await request(proxy.url).get('/').set('X-API-Key', newKey());
      const before = service.calls;
      const res = await request(proxy.url).get('/').set('X-API-Key', newKey());
      expect(res.status).toBe(503);
      expect(service.calls).toBe(before);
    } finally {
      service.mode = 'ok';
    }
  });
});

describe('Redis down mid-traffic', () => {
  it('keeps serving: no crash, degraded to the in-process cache and the auth service', async () => {
    const redis = await startPrivateRedis();
    const service = await startAuthService();
    const upstream = await startUpstream();
    const proxy = await startProxy({
      redis: { url: redis.url, keyPrefix: uniquePrefix() },
      auth: { apiKeys: apiKeyConfig(service) },
      routes: [route(upstream.url, { auth: 'required' })],
    });
    try {
      await waitForRedis(proxy);
      expect(proxy.running.auth?.redis?.isUp()).toBe(true);
      const warm = newKey();
      service.keys.set(warm, { user_id: 'u' });
      expect((await request(proxy.url).get('/').set('X-API-Key', warm)).status).toBe(200);

      const traffic = (async () => {
        const statuses: number[] = [];
        for (let i = 0; i < 40; i++) {
          const key = newKey();
          service.keys.set(key, { user_id: `u${i}` });
          statuses.push((await request(proxy.url).get('/').set('X-API-Key', key)).status);
          statuses.push((await request(proxy.url).get('/').set('X-API-Key', warm)).status);
        }
        return statuses;
      })();
      await new Promise((r) => setTimeout(r, 30));
      await redis.stop();
      const statuses = await traffic;
      expect(statuses.every((s) => s === 200)).toBe(true);
      expect(proxy.running.auth?.redis?.isUp()).toBe(false);
      expect((await request(proxy.url).get('/healthz')).status).toBe(200);
    } finally {
      await proxy.close();
      await upstream.close();
      await service.close();
    }
  });
});

describe('invalid-key verdicts have their own cache', () => {
  let service: AuthService;
  let upstream: TestUpstream;
  let proxy: TestProxy;
  beforeAll(async () => {
    service = await startAuthService();
    upstream = await startUpstream();
    proxy = await startProxy({
      auth: {
        failedAuthGuard: { maxFailures: 0 },
        apiKeys: apiKeyConfig(service, { cacheSize: 4, negativeCacheSize: 8, probeIntervalSec: 0 }),
      },
      routes: [route(upstream.url, { auth: 'required' })],
    });
  });
  afterAll(async () => {
    await proxy.close();
    await upstream.close();
    await service.close();
  });
  const status = async (key: string) =>
    (await request(proxy.url).get('/k').set('X-API-Key', key)).status;

  it('a flood of bad keys never pushes a valid key out of the cache', async () => {
    const valid = newKey();
    service.keys.set(valid, { user_id: 'steady', scopes: [] });
    expect(await status(valid)).toBe(200);
    const asked = service.calls;
    for (let i = 0; i < 40; i++) expect(await status(newKey())).toBe(401);
    expect(service.calls).toBe(asked + 40);
    // still answered from the cache: the service is not asked again
    expect(await status(valid)).toBe(200);
    expect(service.calls).toBe(asked + 40);
  });

  it('bad keys are cached too, within their own bound', async () => {
    const bad = newKey();
    expect(await status(bad)).toBe(401);
    const asked = service.calls;
    expect(await status(bad)).toBe(401);
    expect(service.calls).toBe(asked);
    for (let i = 0; i < 8; i++) await status(newKey()); // its cache holds 8: the first bad key goes
    const before = service.calls;
    expect(await status(bad)).toBe(401);
    expect(service.calls).toBe(before + 1);
  });
});

describe('the API-key caches are bounded by bytes, and invalid verdicts by time', () => {
  let service: AuthService;
  beforeAll(async () => {
    service = await startAuthService();
  });
  afterAll(async () => {
    await service.close();
  });
  const authenticator = (extra: Record<string, unknown>, now: () => number) => {
    const config = parseConfig(
      { auth: { apiKeys: apiKeyConfig(service, { probeIntervalSec: 0, ...extra }) } },
      {},
      'test',
      { requireRoutes: false },
    );
    return new ApiKeyAuthenticator(config.auth.apiKeys!, {
      logger: createLogger({ level: 'error', stream: new LogCapture() }),
      now,
    });
  };
  const verdict = async (a: ApiKeyAuthenticator, apiKey: string): Promise<string> => {
    try {
      const result = await a.authenticate(undefined, {
        credentials: { apiKey },
      } as unknown as RequestScope);
      return result === NOT_RESPONSIBLE ? 'not responsible' : result.userId;
    } catch (err) {
      return (err as AuthgateError).code;
    }
  };

  it('valid keys with large verdicts are evicted by bytes long before the entry bound', async () => {
    // 120 scopes of 250 characters: ~60 KB a verdict by the estimate; 1 MB holds about 16
    const scopes = Array.from({ length: 120 }, (_, i) => `s${i}`.padEnd(250, 'x'));
    const a = authenticator({ cacheSize: 100_000, cacheMaxMb: 1 }, Date.now);
    const keys = Array.from({ length: 40 }, () => newKey());
    for (const key of keys) service.keys.set(key, { user_id: 'big', scopes });
    for (const key of keys) expect(await verdict(a, key)).toBe('big');
    expect(a.cachedBytes).toBeLessThanOrEqual(1024 * 1024);
    expect(a.cachedBytes).toBeGreaterThan(512 * 1024);
    // the most recent key is still cached; the first was pushed out and is asked again
    const asked = service.calls;
    expect(await verdict(a, keys[39]!)).toBe('big');
    expect(service.calls).toBe(asked);
    expect(await verdict(a, keys[0]!)).toBe('big');
    expect(service.calls).toBe(asked + 1);
  });

  it('expired invalid verdicts are swept out of the cache, not kept until pushed out', async () => {
    let now = 1_000_000;
    const a = authenticator({ negativeCacheSize: 1000, negativeCacheTtlSec: 30 }, () => now);
    for (let i = 0; i < 50; i++) expect(await verdict(a, newKey())).toBe('API_KEY_INVALID');
    expect(a.negativeEntries).toBe(50);
    now += 31_000; // past the TTL: the next invalid verdict sweeps the stale ones
    expect(await verdict(a, newKey())).toBe('API_KEY_INVALID');
    expect(a.negativeEntries).toBe(1);
  });

  it('an invalid verdict is served from the cache only within its TTL', async () => {
    let now = 2_000_000;
    const a = authenticator({ negativeCacheTtlSec: 10 }, () => now);
    const bad = newKey();
    expect(await verdict(a, bad)).toBe('API_KEY_INVALID');
    const asked = service.calls;
    now += 9_000;
    expect(await verdict(a, bad)).toBe('API_KEY_INVALID');
    expect(service.calls).toBe(asked);
    now += 2_000;
    expect(await verdict(a, bad)).toBe('API_KEY_INVALID');
    expect(service.calls).toBe(asked + 1);
  });
});
