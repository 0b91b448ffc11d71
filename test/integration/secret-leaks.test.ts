import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { startAuthService, type AuthService } from '../helpers/auth-service';
import { sign } from '../helpers/jwks';
import { startPrivateRedis } from '../helpers/redis';
import { rawRequest, route, startProxy, type TestProxy } from '../helpers/servers';
import { waitFor } from '../helpers/wait';

const SECRET = 'leak-test-hs-secret-0123456789abcdefghij';
const VALID_JWT = sign(SECRET, { iss: 'leak', claims: { scope: 'read' } });
const FORGED_JWT = sign('another-secret-0123456789abcdefghijklmn', { iss: 'leak' });
const VALID_KEY = 'hok_live_VALIDkey0123456789abcdef';
const BAD_KEY = 'hok_live_BADkey0123456789abcdefgh';
const BASIC = 'dXNlcjpzdXBlci1zZWNyZXQtcGFzc3dvcmQ=';
const COOKIE = 'session=cookie-secret-value-42';
const PROXY_AUTH = 'Basic cHJveHk6cHJveHktc2VjcmV0';
const CUSTOM = 'custom-header-secret-99';
const QUERY_SECRETS = ['qtok-111', 'qpass-222', 'qkey-333', 'qsig-444', 'qcode-555'];
const USERINFO_PASS = 'userinfo-pass-666';

const ALL_SECRETS = [
  VALID_JWT,
  VALID_JWT.split('.')[2]!,
  FORGED_JWT,
  FORGED_JWT.split('.')[2]!,
  VALID_KEY,
  BAD_KEY,
  BASIC,
  'super-secret-password',
  'cookie-secret-value-42',
  'cHJveHk6cHJveHktc2VjcmV0',
  CUSTOM,
  ...QUERY_SECRETS,
  USERINFO_PASS,
  SECRET,
];

/**
 * Every secret-bearing input goes through the running proxy at debug level; afterwards every
 * captured log line and every response body is searched for every secret: zero hits.
 */
describe('no secret reaches a log line or an error body', () => {
  let upstream: Server;
  let service: AuthService;
  let proxy: TestProxy;
  let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
  const bodies: string[] = [];

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      // An upstream that echoes the credential back in a 401, as some do.
      if (req.url?.startsWith('/echo401')) {
        res.writeHead(401, { 'Content-Type': 'application/json' });
        res.end(
          JSON.stringify({
            error_code: 'BAD',
            message: `rejected ${req.headers.authorization ?? ''} ${req.headers['x-api-key'] ?? ''}`,
          }),
        );
        return;
      }
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const port = (upstream.address() as AddressInfo).port;
    service = await startAuthService();
    service.keys.set(VALID_KEY, { user_id: 'svc', scopes: ['read'] });
    redis = await startPrivateRedis();
    proxy = await startProxy({
      logging: { level: 'debug', maskHeaders: ['X-Custom-Secret'] },
      redis: { url: redis.url },
      auth: {
        jwt: {
          issuers: [{ issuer: 'leak', audience: 'api', algorithms: ['HS256'], secret: SECRET }],
        },
        apiKeys: {
          prefixes: ['hok_live_'],
          validateUrl: service.url,
          hashSecret: 'leak-hash-secret-0123456789abcdef',
        },
      },
      routes: [
        route(`http://127.0.0.1:${port}`, { name: 'open', prefix: '/open', auth: 'none' }),
        route(`http://127.0.0.1:${port}`, { name: 'closed', prefix: '/closed', auth: 'required' }),
        route('http://127.0.0.1:1', { name: 'down', prefix: '/down', auth: 'none' }),
      ],
    });
  });
  afterAll(async () => {
    await proxy.close();
    await service.close();
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
  });

  const keep = (res: { text?: string; body?: unknown }): void => {
    bodies.push(res.text ?? JSON.stringify(res.body ?? ''));
  };

  it('drives every secret-bearing input through the proxy', async () => {
    keep(await request(proxy.url).get('/closed/a').set('Authorization', `Bearer ${VALID_JWT}`));
    keep(await request(proxy.url).get('/closed/b').set('Authorization', `Bearer ${FORGED_JWT}`));
    keep(
      await request(proxy.url)
        .get('/closed/c')
        .set('Authorization', `Bearer ${FORGED_JWT.slice(0, -5)}`),
    );
    keep(await request(proxy.url).get('/closed/d').set('Authorization', `Basic ${BASIC}`));
    keep(await request(proxy.url).get('/closed/e').set('X-API-Key', VALID_KEY));
    keep(await request(proxy.url).get('/closed/f').set('X-API-Key', BAD_KEY));
    keep(await request(proxy.url).get('/closed/g').set('Authorization', `Bearer ${BAD_KEY}`));
    keep(
      await request(proxy.url)
        .get('/open/h')
        .set('Cookie', COOKIE)
        .set('Proxy-Authorization', PROXY_AUTH)
        .set('X-Custom-Secret', CUSTOM),
    );
    keep(
      await request(proxy.url).get(
        `/open/i?token=${QUERY_SECRETS[0]}&password=${QUERY_SECRETS[1]}&api_key=${QUERY_SECRETS[2]}&signature=${QUERY_SECRETS[3]}&code=${QUERY_SECRETS[4]}`,
      ),
    );
    keep(await request(proxy.url).get(`/open/j?access_token=${VALID_JWT}`));
    keep(
      await rawRequest(proxy.url, {
        path: `http://user:${USERINFO_PASS}@svc/open/k`,
        headers: ['Host', 'svc'],
      }).then((r) => ({ text: r.body.toString() })),
    );
    keep(
      await request(proxy.url)
        .post('/open/l')
        .set('Content-Type', 'application/json')
        .send({ token: VALID_JWT, api_key: VALID_KEY }),
    );
    keep(await request(proxy.url).get(`/open/${VALID_JWT}`));
    keep(
      await request(proxy.url).get('/closed/echo401').set('Authorization', `Bearer ${VALID_JWT}`),
    );
    keep(
      await request(proxy.url)
        .get('/down/m')
        .set('Authorization', `Bearer ${VALID_JWT}`)
        .set('Cookie', COOKIE),
    );
    keep(
      await rawRequest(proxy.url, {
        path: '/open/n',
        headers: [
          'Host',
          'h',
          'Authorization',
          `Bearer ${VALID_JWT}`,
          'Authorization',
          `Bearer ${FORGED_JWT}`,
        ],
      }).then((r) => ({ text: r.body.toString() })),
    );
    // Redis goes away while keys are being looked up: its errors are logged, never the key.
    await redis.stop();
    for (let i = 0; i < 3; i++)
      keep(await request(proxy.url).get('/closed/o').set('X-API-Key', `${BAD_KEY}${i}`));
    await waitFor('the debug lines', () => proxy.logs.entries().some((e) => e.level === 'debug'));
    expect(proxy.logs.lines.length).toBeGreaterThan(20);
  });

  it.each(ALL_SECRETS.map((s) => [s.slice(0, 12), s]))(
    'secret %s… is in no log line and no body',
    (_label, secret) => {
      expect(proxy.logs.text()).not.toContain(secret);
      for (const body of bodies) expect(body).not.toContain(secret);
    },
  );

  it('debug lines say which credentials were present, without values', () => {
    const debug = proxy.logs.entries().filter((e) => e.message === 'credentials');
    expect(debug.some((e) => e.bearer === true)).toBe(true);
    expect(debug.some((e) => e.api_key === true)).toBe(true);
    expect(debug.some((e) => e.cookie === true)).toBe(true);
  });

  it('every line a request caused carries its request id', () => {
    const requestLines = proxy.logs
      .entries()
      .filter((e) => e.type === 'access' || e.type === 'audit' || e.message === 'credentials');
    expect(requestLines.length).toBeGreaterThan(10);
    for (const e of requestLines) expect(typeof e.request_id).toBe('string');
  });
});
