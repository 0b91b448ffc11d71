/**
 * How much authgate logs (`logging.accessLog`, `logging.auditLog`) and at which level: answers
 * >= 500 are `error`, a 4xx authgate answered itself `warn`, everything else — an upstream's own
 * 4xx included — `info`; `errors` keeps only access lines of failed exchanges, `denials` only the
 * decision lines that refused.
 */
import { sign } from '../../helpers/jwks';
import {
  rawRequest,
  startProxy,
  startUpstream,
  type TestProxy,
  type TestUpstream,
} from '../../helpers/servers';

const SECRET = 'logging-volume-secret-0123456789abcdef';
const token = sign(SECRET, { iss: 'idp', claims: { scope: 'read' } });

describe('logging volume and levels', () => {
  let upstream: TestUpstream;
  let all: TestProxy;
  const proxies: TestProxy[] = [];

  beforeAll(async () => {
    upstream = await startUpstream((req, res) => {
      const status = Number(/\/status\/(\d+)/.exec(req.url ?? '')?.[1] ?? 200);
      res.writeHead(status, { 'Content-Type': 'text/plain' }).end('x');
    });
    all = await start({});
  });
  afterAll(async () => {
    for (const p of proxies) await p.close();
    await upstream?.close();
  });

  async function start(logging: Record<string, unknown>): Promise<TestProxy> {
    const proxy = await startProxy({
      logging: { level: 'debug', ...logging },
      auth: { jwt: { issuers: [{ issuer: 'idp', algorithms: ['HS256'], secret: SECRET }] } },
      routes: [
        { name: 'api', prefix: '/api', upstream: upstream.url, scopes: ['read'] },
        { name: 'down', prefix: '/down', upstream: 'http://127.0.0.1:1', auth: 'none' },
      ],
    });
    proxies.push(proxy);
    return proxy;
  }

  const get = (proxy: TestProxy, path: string, auth = true) =>
    rawRequest(proxy.url, {
      path,
      headers: ['Host', 'a', ...(auth ? ['Authorization', `Bearer ${token}`] : [])],
    });

  const accessOf = (proxy: TestProxy, path: string) =>
    proxy.logs.entries().filter((e) => e.type === 'access' && e.path === path);
  const auditOf = (proxy: TestProxy, path: string) =>
    proxy.logs.entries().filter((e) => e.type === 'audit' && e.path === path);

  test.each<[string, string, boolean, number, string]>([
    ['an allowed request', '/api/ok', true, 200, 'info'],
    ["the upstream's own 404", '/api/status/404', true, 404, 'info'],
    ["the upstream's own 500", '/api/status/500', true, 500, 'error'],
    ['a refusal authgate answered (401)', '/api/denied', false, 401, 'warn'],
    ['an upstream that is down (502)', '/down/x', false, 502, 'error'],
  ])('%s: access line at %s', async (_what, path, auth, status, level) => {
    expect((await get(all, path, auth)).status).toBe(status);
    expect(accessOf(all, path)).toEqual([expect.objectContaining({ level, status })]);
  });

  test('accessLog: errors keeps only the access lines of failed exchanges', async () => {
    const proxy = await start({ accessLog: 'errors' });
    await get(proxy, '/api/fine');
    await get(proxy, '/api/nope', false);
    await get(proxy, '/api/status/503');
    expect(accessOf(proxy, '/api/fine')).toEqual([]);
    expect(accessOf(proxy, '/api/nope')).toHaveLength(1);
    expect(accessOf(proxy, '/api/status/503')).toHaveLength(1);
    // The decision lines are not touched by accessLog.
    expect(auditOf(proxy, '/api/fine')).toHaveLength(1);
  });

  test('accessLog: none writes no access line at all', async () => {
    const proxy = await start({ accessLog: 'none' });
    await get(proxy, '/api/fine');
    await get(proxy, '/api/nope', false);
    expect(proxy.logs.entries().filter((e) => e.type === 'access')).toEqual([]);
  });

  test('auditLog: denials keeps the decision lines that refused, and every access line', async () => {
    const proxy = await start({ auditLog: 'denials' });
    await get(proxy, '/api/allowed');
    await get(proxy, '/api/refused', false);
    expect(auditOf(proxy, '/api/allowed')).toEqual([]);
    expect(auditOf(proxy, '/api/refused')).toEqual([
      expect.objectContaining({ decision: 'deny', reason: 'no_credentials' }),
    ]);
    expect(accessOf(proxy, '/api/allowed')).toHaveLength(1);
  });

  test('check-config refuses an unknown mode', async () => {
    await expect(start({ accessLog: 'some' })).rejects.toThrow(/logging\.accessLog/);
  });
});
