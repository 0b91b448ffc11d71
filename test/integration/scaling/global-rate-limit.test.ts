/**
 * Before, the limit was a fixed minute window counted with INCR, and during a Redis
 * outage every instance counted alone, so N instances silently allowed N times the limit. Now:
 * one GCRA limit shared by every process through one atomic Redis call, RateLimit fields on
 * every answer of a limited route, and during an outage each process takes its share (the limit
 * divided by the processes last seen sharing Redis), logged when it starts and ends.
 */
import { request } from 'node:http';
import { sign } from '../../helpers/jwks';
import { ManualClock } from '../../helpers/manual-clock';
import { spawnProxy, type ProxyProcess } from '../../helpers/process';
import { REDIS_URL, startPrivateRedis, uniquePrefix } from '../../helpers/redis';
import {
  freePort,
  route,
  startProxy,
  startUpstream,
  waitForRedis,
  type TestProxy,
  type TestUpstream,
} from '../../helpers/servers';
import { PEER_HEARTBEAT_MS } from '../../../src/rate-limit';

jest.setTimeout(60_000);

const SECRET = 'global-rate-limit-secret-0123456789abcdef';
const token = (sub: string): string => sign(SECRET, { iss: 'grl', sub });
const auth = {
  jwt: { issuers: [{ issuer: 'grl', audience: 'api', algorithms: ['HS256'], secret: SECRET }] },
};

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
}

function get(base: string, path: string, bearer: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    request(`${base}${path}`, { headers: { Authorization: `Bearer ${bearer}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    })
      .on('error', reject)
      .end();
  });
}

const limitedRoute = (upstream: string, limit: Record<string, unknown>) =>
  route(upstream, { auth: 'required', rateLimit: { by: 'principal', ...limit } });

describe('global rate limit across two authgate processes on the real Redis', () => {
  let upstream: TestUpstream;
  const procs: ProxyProcess[] = [];

  beforeAll(async () => {
    upstream = await startUpstream();
    const config = {
      redis: { url: REDIS_URL, keyPrefix: uniquePrefix() },
      auth,
      routes: [limitedRoute(upstream.url, { requestsPerMinute: 60, burst: 20 })],
    };
    for (let i = 0; i < 2; i++)
      procs.push(
        await spawnProxy({ ...config, server: { port: await freePort(), host: '127.0.0.1' } }),
      );
    // both connected to Redis
    for (let i = 0; i < 100; i++) {
      if (procs.every((p) => p.stdout.some((l) => l.includes('"redis up"')))) break;
      await new Promise((r) => setTimeout(r, 20));
    }
  });
  afterAll(async () => {
    for (const p of procs) {
      p.child.kill('SIGTERM');
      await p.exited;
    }
    await upstream.close();
  });

  it('allows the burst once in total, whichever process answers, within the refill of the run', async () => {
    const bearer = token(`u-${Date.now()}`);
    const started = Date.now();
    // 80 requests, 8 at a time, alternating between the two processes
    const answers: Answer[] = [];
    for (let i = 0; i < 80; i += 8) {
      answers.push(
        ...(await Promise.all(
          Array.from({ length: 8 }, (_, j) => get(procs[(i + j) % 2]!.url, '/x', bearer)),
        )),
      );
    }
    const elapsedSec = (Date.now() - started) / 1000;
    const allowed = answers.filter((a) => a.status === 200).length;
    const refused = answers.filter((a) => a.status === 429);
    expect(allowed + refused.length).toBe(80);
    // burst 20, then one per second: within 20 + the seconds the run took (+1 for the edge)
    expect(allowed).toBeGreaterThanOrEqual(20);
    expect(allowed).toBeLessThanOrEqual(20 + Math.ceil(elapsedSec) + 1);
    for (const a of refused) {
      expect(Number(a.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(a.headers['ratelimit-policy']).toBe('"api";q=20;w=20');
      expect(a.headers.ratelimit).toMatch(/^"api";r=0;t=\d+$/);
    }
  });

  it('each process alone would have allowed the whole burst: refusals come from both', async () => {
    const bearer = token(`v-${Date.now()}`);
    const statuses: number[][] = [[], []];
    for (let i = 0; i < 30; i++)
      statuses[i % 2]!.push((await get(procs[i % 2]!.url, '/x', bearer)).status);
    expect(statuses[0]!.filter((s) => s === 200).length).toBeLessThan(20);
    expect(statuses[1]!.filter((s) => s === 200).length).toBeLessThan(20);
    expect(statuses[0]!.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(statuses[1]!.filter((s) => s === 429).length).toBeGreaterThan(0);
  });

  it('an allowed answer carries the RateLimit fields and the remaining count goes down', async () => {
    const bearer = token(`w-${Date.now()}`);
    const first = await get(procs[0]!.url, '/x', bearer);
    const second = await get(procs[1]!.url, '/x', bearer);
    expect(first.status).toBe(200);
    expect(first.headers['ratelimit-policy']).toBe('"api";q=20;w=20');
    expect(first.headers.ratelimit).toBe('"api";r=19;t=1');
    expect(second.headers.ratelimit).toMatch(/^"api";r=18;t=[12]$/);
    expect(first.headers['retry-after']).toBeUndefined();
  });
});

describe('during a Redis outage each process takes its share of the limit', () => {
  let upstream: TestUpstream;
  let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
  const clock = new ManualClock();
  const proxies: TestProxy[] = [];

  beforeAll(async () => {
    upstream = await startUpstream();
    redis = await startPrivateRedis();
    const config = {
      redis: { url: redis.url, keyPrefix: uniquePrefix() },
      auth,
      routes: [limitedRoute(upstream.url, { requestsPerMinute: 60, burst: 20 })],
    };
    for (let i = 0; i < 2; i++) {
      const p = await startProxy(config, { clock });
      await waitForRedis(p);
      proxies.push(p);
    }
    // every process announces itself: both now know they are two
    await clock.advance(PEER_HEARTBEAT_MS);
    await new Promise((r) => setTimeout(r, 100));
  });
  afterAll(async () => {
    for (const p of proxies) await p.close();
    await redis.stop();
    await upstream.close();
  });

  async function allowedOn(p: TestProxy, bearer: string, n: number): Promise<number> {
    let allowed = 0;
    for (let i = 0; i < n; i++) if ((await get(p.url, '/x', bearer)).status === 200) allowed++;
    return allowed;
  }

  it('with Redis down, two processes together allow the global burst, not twice it; logged once; shared again after', async () => {
    await redis.stop();
    for (let i = 0; i < 100 && proxies.some((p) => p.running.auth?.redis?.isUp()); i++)
      await new Promise((r) => setTimeout(r, 20));
    const bearer = token(`outage-${Date.now()}`);
    const a = await allowedOn(proxies[0]!, bearer, 15);
    const b = await allowedOn(proxies[1]!, bearer, 15);
    expect([a, b]).toEqual([10, 10]);
    // one line per process when it starts counting alone, with the share it used
    for (const p of proxies) {
      const lines = p.logs
        .entries()
        .filter((l) => l.message === 'rate limits counted per process while redis is unreachable');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ level: 'warn', peers_seen: 2 });
    }
    // the answer says it was decided locally by the share in force
    const refused = await get(proxies[0]!.url, '/x', bearer);
    expect(refused.status).toBe(429);
    expect(refused.headers['ratelimit-policy']).toBe('"api";q=10;w=20');

    // Redis back on the same port: one shared limit again, logged
    redis = await startPrivateRedis(redis.port);
    for (let i = 0; i < 200 && !proxies.every((p) => p.running.auth?.redis?.isUp()); i++)
      await new Promise((r) => setTimeout(r, 25));
    const fresh = token(`after-${Date.now()}`);
    const shared =
      (await allowedOn(proxies[0]!, fresh, 12)) + (await allowedOn(proxies[1]!, fresh, 12));
    expect(shared).toBeGreaterThanOrEqual(20);
    expect(shared).toBeLessThanOrEqual(21);
    // Redis going down and up: one line each per process, with where and why
    for (const p of proxies) {
      const down = p.logs.entries().filter((l) => l.message === 'redis down');
      expect(down).toHaveLength(1);
      expect(down[0]).toMatchObject({
        level: 'warn',
        redis: redis.url,
        reason: expect.any(String),
      });
      expect(p.logs.entries().filter((l) => l.message === 'redis up')).toHaveLength(2);
    }
    for (const p of proxies)
      expect(
        p.logs.entries().some((l) => l.message === 'rate limits shared through redis again'),
      ).toBe(true);
  });
});
