/**
 * Issue 10.5: an auth-service outage and an open circuit breaker left no log line above the
 * audit reasons, and authgate_auth_service_up kept reading 0 after the service recovered until
 * the next uncached lookup (so its alert kept firing). An active probe now drives the gauge,
 * and every change of state writes one line. Time is a ManualClock: the probe runs when the
 * test moves it.
 */
import request from 'supertest';
import { startAuthService, type AuthService } from '../../helpers/auth-service';
import { ManualClock } from '../../helpers/manual-clock';
import {
  route,
  startProxy,
  startUpstream,
  type TestProxy,
  type TestUpstream,
} from '../../helpers/servers';

describe('issue 10.5: faults you can see', () => {
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
