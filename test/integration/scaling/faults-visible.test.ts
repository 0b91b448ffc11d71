/**
 * an auth-service outage and an open circuit breaker left no log line above the
 * audit reasons, and authgate_auth_service_up kept reading 0 after the service recovered until
 * the next uncached lookup (so its alert kept firing). An active probe now drives the gauge,
 * and every change of state writes one line. Time is a ManualClock: the probe runs when the
 * test moves it.
 */
import request from 'supertest';
import { startAuthService, type AuthService } from '../../helpers/auth-service';
import { rsaKey, startJwksServer, type JwksServer } from '../../helpers/jwks';
import { ManualClock } from '../../helpers/manual-clock';
import {
  route,
  startProxy,
  startUpstream,
  type TestProxy,
  type TestUpstream,
} from '../../helpers/servers';

describe('faults you can see', () => {
  let service: AuthService;
  let upstream: TestUpstream;
  let proxy: TestProxy;
  const clock = new ManualClock();
  beforeAll(async () => {
    service = await startAuthService();
    service.keys.set('hok_good_key', { user_id: 'u' });
    upstream = await startUpstream();
    proxy = await startProxy(
      {
        auth: {
          failedAuthGuard: { maxFailures: 0 },
          apiKeys: {
            prefixes: ['hok_'],
            validateUrl: service.url,
            probeIntervalSec: 15,
            retries: 0,
            cacheTtlSec: 3600,
          },
        },
        routes: [route(upstream.url, { auth: 'required' })],
      },
      { clock },
    );
  });
  afterAll(async () => {
    await proxy.close();
    await upstream.close();
    await service.close();
  });

  const gauge = async (): Promise<number> => {
    const text = await proxy.running.metrics.registry.metrics();
    return Number(/^authgate_auth_service_up (\d)/m.exec(text)?.[1]);
  };
  /** Moves the clock one probe interval and waits for that probe to finish. */
  const probeTick = async (): Promise<void> => {
    await clock.advance(15_000);
    await proxy.running.auth!.apiKeys!.service.probe();
  };
  const lines = (message: string) => proxy.logs.entries().filter((e) => e.message === message);

  it('the probe drives authgate_auth_service_up down and back up, with one line per change', async () => {
    expect((await request(proxy.url).get('/x').set('X-API-Key', 'hok_good_key')).status).toBe(200);
    await probeTick();
    expect(await gauge()).toBe(1);

    service.mode = 'error500';
    await probeTick();
    await probeTick();
    expect(await gauge()).toBe(0);
    expect(lines('auth service down')).toHaveLength(1);
    expect(lines('auth service down')[0]).toMatchObject({ level: 'warn', reason: 'status 500' });

    service.mode = 'ok';
    await probeTick();
    // back to 1 although every real key is cached and no lookup happened
    expect(await gauge()).toBe(1);
    expect(lines('auth service up')).toHaveLength(1);
  });

  it('the circuit breaker opening, half-opening and closing each write one line', async () => {
    service.mode = 'error500';
    for (let i = 0; i < 5; i++)
      await request(proxy.url).get('/x').set('X-API-Key', `hok_uncached_${i}`);
    expect(lines('auth service circuit open: API keys answer 503')).toHaveLength(1);
    service.mode = 'ok';
    await clock.advance(10_000);
    service.keys.set('hok_after', { user_id: 'u' });
    expect((await request(proxy.url).get('/x').set('X-API-Key', 'hok_after')).status).toBe(200);
    expect(lines('auth service circuit half-open: probing')).toHaveLength(1);
    expect(lines('auth service circuit closed')).toHaveLength(1);
  });
});

describe('authgate_jwks_up follows each JWKS endpoint, with one line per change', () => {
  const ISSUER = 'https://idp.faults.test';
  let jwks: JwksServer;
  let other: JwksServer;
  let upstream: TestUpstream;
  let proxy: TestProxy;
  const clock = new ManualClock();

  beforeAll(async () => {
    jwks = await startJwksServer([rsaKey()]);
    other = await startJwksServer([rsaKey()]);
    upstream = await startUpstream();
    proxy = await startProxy(
      {
        auth: {
          jwt: {
            jwksMaxAgeSec: 60,
            issuers: [
              { issuer: ISSUER, audience: 'api', algorithms: ['RS256'], jwksUri: jwks.url },
              { issuer: 'other', audience: 'api', algorithms: ['RS256'], jwksUri: other.url },
            ],
          },
        },
        routes: [route(upstream.url, { auth: 'required' })],
      },
      { clock },
    );
  });
  afterAll(async () => {
    await proxy.close();
    await upstream.close();
    await jwks.close();
    await other.close();
  });

  const up = async (issuer: string): Promise<number> => {
    const text = await proxy.running.metrics.registry.metrics();
    const line = text.split('\n').find((l) => l.startsWith(`authgate_jwks_up{issuer="${issuer}"}`));
    return Number(line?.split(' ')[1]);
  };
  /** One refresh-timer tick, waited for. */
  const tick = async (): Promise<void> => {
    await clock.advance(60_000);
    await Promise.all(proxy.running.auth!.jwt!.jwksSources().map((s) => s.source.refresh()));
  };
  const lines = (message: string) => proxy.logs.entries().filter((e) => e.message === message);

  it('goes 0 while the endpoint fails and back to 1 on the next timer refresh, without any request', async () => {
    expect(await up(ISSUER)).toBe(1);
    jwks.down = true;
    await tick();
    expect(await up(ISSUER)).toBe(0);
    expect(await up('other')).toBe(1);
    await tick();
    const failed = lines('jwks refresh failed');
    expect(failed).toHaveLength(2); // one per failed fetch
    expect(failed[0]).toMatchObject({ level: 'warn', issuer: ISSUER, keeping_keys: true });
    expect(String(failed[0]!.reason)).toMatch(/503/);

    jwks.down = false;
    await tick();
    expect(await up(ISSUER)).toBe(1);
    expect(lines('jwks refresh recovered')).toEqual([
      expect.objectContaining({ level: 'info', issuer: ISSUER, keys: 1 }),
    ]);
    await tick();
    expect(lines('jwks refresh recovered')).toHaveLength(1);
  });
});
