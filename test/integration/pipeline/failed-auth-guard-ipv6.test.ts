/**
 * The failed-authentication guard counts an IPv6 client by its /64 (configurable): 30 guesses
 * from addresses of one /64 are throttled after `maxFailures`, while another /64 is not.
 */
import {
  rawRequest,
  startProxy,
  startUpstream,
  type TestProxy,
  type TestUpstream,
} from '../../helpers/servers';

describe('failed-auth guard: IPv6 clients per /64', () => {
  let upstream: TestUpstream;
  let proxy: TestProxy;
  beforeAll(async () => {
    upstream = await startUpstream();
    proxy = await startProxy({
      // The load balancer in front (loopback) adds the client address to X-Forwarded-For.
      server: { trustedProxies: ['127.0.0.1/32'] },
      auth: {
        failedAuthGuard: { maxFailures: 5, windowSec: 600 },
        jwt: {
          issuers: [
            {
              issuer: 'idp',
              algorithms: ['HS256'],
              secret: 'ipv6-guard-secret-0123456789abcdefgh',
            },
          ],
        },
      },
      routes: [{ name: 'api', prefix: '/', upstream: upstream.url, auth: 'required' }],
    });
  });
  afterAll(async () => {
    await proxy.close();
    await upstream.close();
  });
  const guess = (client: string) =>
    rawRequest(proxy.url, {
      path: '/x',
      headers: [
        'Host',
        'api.example',
        'X-Forwarded-For',
        client,
        'Authorization',
        'Bearer not.a.jwt',
      ],
    });

  it('30 guesses from one /64, each from a new address: only the first 5 reach a check', async () => {
    const statuses: number[] = [];
    for (let i = 1; i <= 30; i++)
      statuses.push((await guess(`2001:db8:1:2::${i.toString(16)}`)).status);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5).every((s) => s === 429)).toBe(true);
    // Another /64 has its own count.
    expect((await guess('2001:db8:1:3::1')).status).toBe(401);
  });
});
