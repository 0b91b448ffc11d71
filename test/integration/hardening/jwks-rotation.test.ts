/**
 * Found by a real identity provider rotating keys:
 *  - a token whose kid is unknown while the JWKS endpoint is failing got 401 TOKEN_INVALID
 *    (it must be 503: a rotated key cannot be told from a forged one then);
 *  - keys were refreshed only when an uncached token needed them, not on a timer;
 *  - a withdrawn key kept its tokens valid in the verified-token cache until they expired.
 * Time is a ManualClock: the refresh timer fires when the test moves it.
 */
import request from 'supertest';
import { ManualClock } from '../../helpers/manual-clock';
import {
  rsaKey,
  sign,
  startJwksServer,
  type JwksServer,
  type SigningKey,
} from '../../helpers/jwks';
import {
  route,
  startProxy,
  startUpstream,
  type TestProxy,
  type TestUpstream,
} from '../../helpers/servers';

const ISSUER = 'https://idp.test';

describe('JWKS rotation, withdrawal and outages', () => {
  let jwks: JwksServer;
  let upstream: TestUpstream;
  let proxy: TestProxy;
  let clock: ManualClock;
  let first: SigningKey;
  const token = (key: SigningKey, n = 0) => sign(key, { iss: ISSUER, claims: { n } });
  const call = (t: string) => request(proxy.url).get('/x').set('Authorization', `Bearer ${t}`);
  /** Resolves once a refresh the timer started has finished (refresh() joins one in flight). */
  const settled = () => proxy.running.auth!.jwt!.jwksSources()[0]!.source.refresh();

  beforeEach(async () => {
    first = rsaKey();
    jwks = await startJwksServer([first]);
    upstream = await startUpstream();
    clock = new ManualClock();
    proxy = await startProxy(
      {
        auth: {
          failedAuthGuard: { maxFailures: 0 },
          jwt: {
            jwksMaxAgeSec: 300,
            jwksMinRefetchIntervalSec: 30,
            issuers: [
              { issuer: ISSUER, audience: 'api', algorithms: ['RS256'], jwksUri: jwks.url },
            ],
          },
        },
        routes: [route(upstream.url, { auth: 'required' })],
      },
      { clock },
    );
  });
  afterEach(async () => {
    await proxy.close();
    await upstream.close();
    await jwks.close();
  });

  it('an unknown kid while the endpoint fails is 503, also within the refetch interval', async () => {
    jwks.down = true;
    await clock.advance(30_000); // past the refetch interval: the next unknown kid refetches
    const stranger = rsaKey();
    for (let i = 0; i < 3; i++) {
      const res = await call(token(stranger, i));
      expect(res.status).toBe(503);
      expect(res.body.error_code).toBe('AUTH_SERVICE_UNAVAILABLE');
    }
    // the known key still works from the last good set
    expect((await call(token(first))).status).toBe(200);
    jwks.down = false;
    await clock.advance(30_000);
    // endpoint back and the kid still unknown: now it is a verdict
    expect((await call(token(stranger, 9))).status).toBe(401);
  });

  it('keys are refreshed on a timer: a rotated key works without an on-demand fetch', async () => {
    const fetches = jwks.fetches;
    const second = rsaKey();
    jwks.keys = [first, second];
    await clock.advance(300_000);
    await settled();
    expect(jwks.fetches).toBe(fetches + 1);
    expect((await call(token(second))).status).toBe(200);
    expect(jwks.fetches).toBe(fetches + 1);
  });

  it('a withdrawn key takes its cached tokens with it at the next refresh', async () => {
    const cached = token(first);
    expect((await call(cached)).status).toBe(200);
    expect((await call(cached)).status).toBe(200); // from the verified-token cache
    jwks.keys = [rsaKey()];
    await clock.advance(300_000);
    await settled();
    const res = await call(cached);
    expect(res.status).toBe(401);
    expect(res.body.error_code).toBe('TOKEN_INVALID');
  });

  it('an outage at refresh time keeps the last good keys and their cached tokens', async () => {
    const cached = token(first);
    expect((await call(cached)).status).toBe(200);
    jwks.down = true;
    await clock.advance(300_000);
    await settled();
    expect((await call(cached)).status).toBe(200);
    expect((await call(token(first, 1))).status).toBe(200);
  });
});
