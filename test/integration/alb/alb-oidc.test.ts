/**
 * the ALB's OIDC identity verified (ES256, signer, kid from the key server, exp, the
 * padding quirk), its identity header checked, its headers refused from anyone but a trusted
 * proxy, and the request id taken from the ALB's X-Amzn-Trace-Id.
 */
import { sign } from '../../helpers/jwks';
import { ManualClock } from '../../helpers/manual-clock';
import { ALB_ARN, albKey, albToken, startAlbKeyServer, type AlbKeyServer } from '../../helpers/alb';
import {
  pairs,
  rawRequest,
  route,
  startProxy,
  startUpstream,
  type TestProxy,
  type TestUpstream,
} from '../../helpers/servers';

describe('the ALB OIDC authenticator', () => {
  const key = albKey();
  let keyServer: AlbKeyServer;
  let upstream: TestUpstream;
  let behindAlb: TestProxy;
  let direct: TestProxy;
  const clock = new ManualClock();

  beforeAll(async () => {
    keyServer = await startAlbKeyServer([key]);
    upstream = await startUpstream();
    const config = (trusted: string[]) => ({
      server: { trustedProxies: trusted },
      auth: {
        failedAuthGuard: { maxFailures: 0 },
        albOidc: {
          keysUrl: keyServer.url,
          signers: [ALB_ARN],
          issuer: 'https://idp.example',
          claims: { scopes: 'groups', tenants: 'custom:tenants' },
          scopes: ['mlflow:read'],
        },
        jwt: {
          issuers: [
            {
              issuer: 'api',
              algorithms: ['HS256'],
              secret: 'alb-test-jwt-secret-0123456789abcdefgh',
            },
          ],
        },
      },
      routes: [
        route(upstream.url, { name: 'ui', prefix: '/', auth: 'required', scopes: ['mlflow:read'] }),
        route(upstream.url, {
          name: 'admin',
          prefix: '/admin',
          auth: 'required',
          scopes: ['admins'],
        }),
      ],
    });
    behindAlb = await startProxy(config(['127.0.0.1']), { clock });
    direct = await startProxy(config([]));
  });
  afterAll(async () => {
    await behindAlb.close();
    await direct.close();
    await upstream.close();
    await keyServer.close();
  });

  const send = (proxy: TestProxy, headers: string[], path = '/x') =>
    rawRequest(proxy.url, { path, headers: ['Host', 'mlflow.example', ...headers] });
  const body = (res: { body: Buffer }) =>
    JSON.parse(res.body.toString()) as Record<string, unknown>;
  const lastSeen = () => pairs(upstream.seen[upstream.seen.length - 1]!.rawHeaders);

  it('a valid ALB token (padded segments) authenticates; identity and claims become the principal', async () => {
    const token = albToken(key, { groups: ['admins'], 'custom:tenants': 't1' });
    expect(token).toMatch(/=\./); // the padding quirk is exercised
    const res = await send(
      behindAlb,
      ['x-amzn-oidc-data', token, 'x-amzn-oidc-identity', 'u-1234'],
      '/admin/x',
    );
    expect(res.status).toBe(200);
    expect(lastSeen()).toContainEqual(['X-User-ID', 'u-1234']);
    expect(lastSeen()).toContainEqual(['x-amzn-oidc-data', token]);
  });

  it.each([
    [
      'a wrong signer',
      () => albToken(key, {}, { signer: ALB_ARN.replace('mlflow', 'evil') }),
      401,
      'TOKEN_INVALID',
    ],
    [
      'an expired token',
      () =>
        albToken(
          key,
          { exp: Math.floor(Date.now() / 1000) - 600 },
          { exp: Math.floor(Date.now() / 1000) - 600 },
        ),
      401,
      'TOKEN_EXPIRED',
    ],
    ['an unknown kid', () => albToken({ ...albKey() }), 401, 'TOKEN_INVALID'],
    [
      'a tampered payload',
      () => {
        const [h, , s] = albToken(key).split('.');
        const p = Buffer.from(
          JSON.stringify({ sub: 'root', exp: Math.floor(Date.now() / 1000) + 60 }),
        ).toString('base64url');
        return `${h}.${p}.${s}`;
      },
      401,
      'TOKEN_INVALID',
    ],
    ['a wrong algorithm', () => albToken(key, {}, { alg: 'HS256' }), 401, 'TOKEN_INVALID'],
    [
      'another issuer (the ALB signs iss in the header)',
      () => albToken(key, {}, { iss: 'https://other.example' }),
      401,
      'TOKEN_INVALID',
    ],
    [
      'an expired ALB token whose payload claims ten more years',
      () =>
        albToken(
          key,
          { exp: Math.floor(Date.now() / 1000) + 10 * 365 * 86_400 },
          { exp: Math.floor(Date.now() / 1000) - 3600 },
        ),
      401,
      'TOKEN_EXPIRED',
    ],
    [
      'an ALB token whose payload names the configured issuer but whose header names another',
      () => albToken(key, { iss: 'https://idp.example' }, { iss: 'https://other.example' }),
      401,
      'TOKEN_INVALID',
    ],
  ])('%s is refused (%s %s), nothing forwarded', async (_n, token, status, code) => {
    await clock.advance(5_000); // past the key-fetch interval: an unknown kid is looked up
    const before = upstream.seen.length;
    const res = await send(behindAlb, ['x-amzn-oidc-data', token()]);
    expect(res.status).toBe(status);
    expect(body(res).error_code).toBe(code);
    expect(res.headers['www-authenticate']).toMatch(/error="invalid_token"/);
    expect(upstream.seen.length).toBe(before);
  });

  it.each([
    [
      'an unsigned bearer (alg none)',
      `Bearer ${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"mallory"}').toString('base64url')}.`,
    ],
    [
      'a valid bearer of another user',
      `Bearer ${sign('alb-test-jwt-secret-0123456789abcdefgh', { iss: 'api', sub: 'bob' })}`,
    ],
  ])(
    'the ALB identity beside %s is ambiguous: 400, nothing forwarded',
    async (_name, authorization) => {
      const before = upstream.seen.length;
      const res = await send(behindAlb, [
        'x-amzn-oidc-data',
        albToken(key, { groups: ['admins'] }),
        'Authorization',
        authorization,
      ]);
      expect(res.status).toBe(400);
      expect(body(res)).toMatchObject({ error_code: 'BAD_REQUEST' });
      expect(upstream.seen.length).toBe(before);
    },
  );

  it('x-amzn-oidc-identity must equal the verified sub: 403 IDENTITY_MISMATCH', async () => {
    const res = await send(behindAlb, [
      'x-amzn-oidc-data',
      albToken(key),
      'x-amzn-oidc-identity',
      'u-9999',
    ]);
    expect(res.status).toBe(403);
    expect(body(res).error_code).toBe('IDENTITY_MISMATCH');
  });

  it('scopes come from the configured claims: without the group, the admin route is 403', async () => {
    const res = await send(
      behindAlb,
      ['x-amzn-oidc-data', albToken(key, { groups: ['users'] })],
      '/admin/x',
    );
    expect(res.status).toBe(403);
    expect(body(res).error_code).toBe('INSUFFICIENT_SCOPE');
  });

  it.each([
    ['x-amzn-oidc-data', () => albToken(key)],
    ['x-amzn-oidc-identity', () => 'u-1234'],
    ['X-Amzn-Oidc-Accesstoken', () => 'opaque'],
  ])('%s from a peer that is not a trusted proxy: 400, never trusted', async (name, value) => {
    const before = upstream.seen.length;
    const res = await send(direct, [
      name,
      value(),
      'Authorization',
      `Bearer ${sign('alb-test-jwt-secret-0123456789abcdefgh', { iss: 'api' })}`,
    ]);
    expect(res.status).toBe(400);
    expect(body(res).error_code).toBe('BAD_REQUEST');
    expect(upstream.seen.length).toBe(before);
  });

  it('a flood of unknown kids does not flood the key server', async () => {
    const before = keyServer.fetches.length;
    const statuses = await Promise.all(
      Array.from({ length: 20 }, () =>
        send(behindAlb, ['x-amzn-oidc-data', albToken(albKey())]).then((r) => r.status),
      ),
    );
    expect(keyServer.fetches.length - before).toBeLessThanOrEqual(1);
    expect(statuses.every((s) => s === 401 || s === 503)).toBe(true);
    // the known key keeps working
    expect((await send(behindAlb, ['x-amzn-oidc-data', albToken(key)])).status).toBe(200);
  });

  it('the key is fetched once and cached', async () => {
    const before = keyServer.fetches.filter((k) => k === key.kid).length;
    for (let i = 0; i < 3; i++)
      expect((await send(behindAlb, ['x-amzn-oidc-data', albToken(key, { n: i })])).status).toBe(
        200,
      );
    expect(keyServer.fetches.filter((k) => k === key.kid).length).toBe(before);
  });
});

describe('the request id from the ALB trace id', () => {
  let upstream: TestUpstream;
  let proxy: TestProxy;
  beforeAll(async () => {
    upstream = await startUpstream();
    proxy = await startProxy({
      server: { trustedProxies: ['127.0.0.1'] },
      routes: [route(upstream.url)],
    });
  });
  afterAll(async () => {
    await proxy.close();
    await upstream.close();
  });
  const trace = 'Root=1-67891233-abcdef012345678912345678;Parent=463ac35c9f6413ad;Sampled=1';

  it('without X-Request-ID, the Root= of X-Amzn-Trace-Id is the request id; the trace id goes up untouched', async () => {
    const res = await rawRequest(proxy.url, {
      path: '/x',
      headers: ['Host', 'h', 'X-Amzn-Trace-Id', trace],
    });
    expect(res.headers['x-request-id']).toBe('1-67891233-abcdef012345678912345678');
    const seen = pairs(upstream.seen[upstream.seen.length - 1]!.rawHeaders);
    expect(seen).toContainEqual(['X-Request-ID', '1-67891233-abcdef012345678912345678']);
    expect(seen).toContainEqual(['X-Amzn-Trace-Id', trace]);
    const line = proxy.logs.entries().find((e) => e.type === 'access');
    expect(line?.request_id).toBe('1-67891233-abcdef012345678912345678');
  });

  it('a sane X-Request-ID still wins', async () => {
    const res = await rawRequest(proxy.url, {
      path: '/x',
      headers: ['Host', 'h', 'X-Amzn-Trace-Id', trace, 'X-Request-ID', 'mine-1'],
    });
    expect(res.headers['x-request-id']).toBe('mine-1');
  });

  it('a malformed trace id falls back to a UUID', async () => {
    const res = await rawRequest(proxy.url, {
      path: '/x',
      headers: ['Host', 'h', 'X-Amzn-Trace-Id', 'Root=<script>'],
    });
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});
