/**
 * Redis through Sentinel and Cluster, configured as `redis.sentinel` and
 * `redis.cluster` and passed to ioredis. Real `redis-server --sentinel` and a real three-master
 * cluster: two authgate instances share the rate limit and the API-key cache through them, and a
 * revocation (a transaction on two keys, which Cluster allows only on one slot) reaches both.
 */
import { Redis } from 'ioredis';
import request from 'supertest';
import { startAuthService, type AuthService } from '../../helpers/auth-service';
import { startRedisCluster, startSentinel, uniquePrefix } from '../../helpers/redis';
import {
  route,
  startProxy,
  startUpstream,
  waitForRedis,
  type TestProxy,
  type TestUpstream,
} from '../../helpers/servers';

jest.setTimeout(60_000);

let n = 0;
const newKey = (): string => `hok_test_${Date.now().toString(36)}${(n++).toString(36)}topology`;

function sharedConfig(
  redis: Record<string, unknown>,
  service: AuthService,
  upstream: TestUpstream,
): Record<string, unknown> {
  return {
    redis: { keyPrefix: uniquePrefix(), ...redis },
    auth: {
      apiKeys: {
        prefixes: ['hok_test_'],
        validateUrl: service.url,
        hashSecret: 'topology-hash-secret-0123456789abcdef',
      },
    },
    routes: [
      route(upstream.url, {
        auth: 'required',
        rateLimit: { requestsPerMinute: 60, burst: 3, by: 'principal' },
      }),
    ],
  };
}

/** The checks both topologies must pass with two instances `a` and `b`. */
function sharesStateThroughRedis(fixture: { a: TestProxy; b: TestProxy; service: AuthService }) {
  const statusOf = async (p: TestProxy, key: string): Promise<number> =>
    (await request(p.url).get('/x').set('X-API-Key', key)).status;

  it('connects (redis up) and counts one rate limit for both instances', async () => {
    const { a, b, service } = fixture;
    expect(a.running.auth?.redis?.isUp()).toBe(true);
    expect(b.running.auth?.redis?.isUp()).toBe(true);
    const key = newKey();
    service.keys.set(key, { user_id: `rl-${n}`, scopes: [] });
    const statuses = [
      await statusOf(a, key),
      await statusOf(b, key),
      await statusOf(a, key),
      await statusOf(b, key),
    ];
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(a.logs.text()).not.toMatch(/counted per process/);
  });

  it('shares the API-key cache, and a revocation on one instance reaches the other', async () => {
    const { a, b, service } = fixture;
    const key = newKey();
    service.keys.set(key, { user_id: `cache-${n}`, scopes: [] });
    const before = service.calls;
    expect(await statusOf(a, key)).toBe(200);
    expect(await statusOf(b, key)).toBe(200);
    expect(service.calls - before).toBe(1); // b found a's verdict in Redis
    service.keys.delete(key);
    await a.running.auth!.apiKeys!.revoke(key);
    for (let i = 0; i < 50 && (await statusOf(b, key)) !== 401; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(await statusOf(b, key)).toBe(401);
  });
}

describe('redis.sentinel: a real Sentinel in front of the master', () => {
  const fixture = {} as { a: TestProxy; b: TestProxy; service: AuthService };
  let upstream: TestUpstream;
  let sentinel: Awaited<ReturnType<typeof startSentinel>>;

  beforeAll(async () => {
    sentinel = await startSentinel('mymaster');
    upstream = await startUpstream();
    fixture.service = await startAuthService();
    const config = sharedConfig(
      {
        sentinel: {
          name: 'mymaster',
          sentinels: [{ host: '127.0.0.1', port: sentinel.sentinelPort }],
        },
      },
      fixture.service,
      upstream,
    );
    fixture.a = await startProxy(config);
    fixture.b = await startProxy(config);
    await Promise.all([fixture.a, fixture.b].map(waitForRedis));
  });
  afterAll(async () => {
    await fixture.a?.close();
    await fixture.b?.close();
    await fixture.service?.close();
    await upstream?.close();
    await sentinel?.stop();
  });

  sharesStateThroughRedis(fixture);

  it('logs where it connected without a password', () => {
    const up = fixture.a.logs.entries().find((l) => l.message === 'redis up');
    expect(up?.redis).toBe(`sentinel mymaster via 127.0.0.1:${sentinel.sentinelPort}`);
  });
});

describe('redis.cluster: a real three-master Redis Cluster', () => {
  const fixture = {} as { a: TestProxy; b: TestProxy; service: AuthService };
  let upstream: TestUpstream;
  let cluster: Awaited<ReturnType<typeof startRedisCluster>>;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    upstream = await startUpstream();
    fixture.service = await startAuthService();
    const config = sharedConfig(
      // one seed node is enough: ioredis discovers the others
      { cluster: { nodes: [{ host: '127.0.0.1', port: cluster.ports[0] }] } },
      fixture.service,
      upstream,
    );
    fixture.a = await startProxy(config);
    fixture.b = await startProxy(config);
    // a fresh cluster may refuse the first slot refresh; ioredis retries
    for (
      let i = 0;
      i < 300 && ![fixture.a, fixture.b].every((p) => p.running.auth?.redis?.isUp());
      i++
    )
      await new Promise((r) => setTimeout(r, 50));
  });
  afterAll(async () => {
    await fixture.a?.close();
    await fixture.b?.close();
    await fixture.service?.close();
    await upstream?.close();
    await cluster?.stop();
  });

  sharesStateThroughRedis(fixture);

  it('keys spread over the cluster (the hash tags keep only related keys together)', async () => {
    const { a, service } = fixture;
    for (let i = 0; i < 12; i++) {
      const key = newKey();
      service.keys.set(key, { user_id: `spread-${i}`, scopes: [] });
      expect((await request(a.url).get('/x').set('X-API-Key', key)).status).toBe(200);
    }
    const counts = await Promise.all(
      cluster.ports.map(async (port) => {
        const r = new Redis({ port, host: '127.0.0.1' });
        try {
          return await r.dbsize();
        } finally {
          r.disconnect();
        }
      }),
    );
    expect(counts.filter((c) => c > 0).length).toBeGreaterThanOrEqual(2);
  });
});
