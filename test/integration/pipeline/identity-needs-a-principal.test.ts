/**
 * Identity and tenant headers are only ever vouched for by a verified principal — in `serve` and
 * in the embedded chain alike: an anonymous caller on an `auth: optional` route cannot forge
 * `X-User-ID` or a tenant, cannot spend another tenant's rate-limit budget, the embedded tenant
 * header is guarded like a configured one, and embedded `authenticate()` never decides on one
 * path while the handler behind serves another.
 */
import express from 'express';
import { createProxyMiddleware } from 'http-proxy-middleware';
import { createAuthgate, type Authgate } from '../../../src/index';
import { createLogger } from '../../../src/logging/logger';
import { sign } from '../../helpers/jwks';
import {
  LogCapture,
  listen,
  rawRequest,
  route,
  startProxy,
  startUpstream,
  type ListeningApp,
  type TestProxy,
  type TestUpstream,
} from '../../helpers/servers';

const SECRET = 'identity-needs-principal-secret-0123456789';
const token = (sub: string, tenants: string[] = ['t1'], scope = 'reports:read'): string =>
  sign(SECRET, { iss: 'idp', sub, claims: { scope, tenant_ids: tenants } });
const auth = {
  failedAuthGuard: { maxFailures: 0 },
  jwt: { issuers: [{ issuer: 'idp', audience: 'api', algorithms: ['HS256'], secret: SECRET }] },
};
const json = (res: { body: Buffer }) => JSON.parse(res.body.toString()) as Record<string, unknown>;

describe('serve: identity and tenant headers need a verified principal', () => {
  let upstream: TestUpstream;
  let proxy: TestProxy;
  beforeAll(async () => {
    upstream = await startUpstream();
    proxy = await startProxy({
      auth,
      routes: [
        route(upstream.url, { name: 'opt', prefix: '/opt', auth: 'optional' }),
        route(upstream.url, {
          name: 'limited',
          prefix: '/limited',
          auth: 'optional',
          rateLimit: { requestsPerMinute: 1, burst: 1, by: 'tenant' },
        }),
        route(upstream.url, {
          name: 'by-path',
          prefix: '/reg',
          auth: 'required',
          tenantPathSegment: 1,
          rateLimit: { requestsPerMinute: 1, burst: 1, by: 'tenant' },
        }),
      ],
    });
  });
  afterAll(async () => {
    await proxy.close();
    await upstream.close();
  });
  const send = (path: string, headers: string[] = []) =>
    rawRequest(proxy.url, { path, headers: ['Host', 'api.example', ...headers] });

  it.each([
    ['X-User-ID: admin', ['X-User-ID', 'admin'], 403, 'IDENTITY_MISMATCH'],
    ['X-Tenant-ID: bigcorp', ['X-Tenant-ID', 'bigcorp'], 403, 'TENANT_FORBIDDEN'],
    ['x-user-id in lower case', ['x-user-id', 'root'], 403, 'IDENTITY_MISMATCH'],
  ])(
    'an anonymous request with %s on an optional route is refused; nothing reaches the upstream',
    async (_name, headers, status, code) => {
      const before = upstream.seen.length;
      const res = await send('/opt/x', headers);
      expect(res.status).toBe(status);
      expect(json(res).error_code).toBe(code);
      expect(upstream.seen.length).toBe(before);
    },
  );

  it('anonymous without identity headers still passes an optional route', async () => {
    expect((await send('/opt/x')).status).toBe(200);
  });

  it('with a verified principal the same headers pass when they are its own', async () => {
    const res = await send('/opt/x', [
      'Authorization',
      `Bearer ${token('alice', ['t1'])}`,
      'X-User-ID',
      'alice',
      'X-Tenant-ID',
      't1',
    ]);
    expect(res.status).toBe(200);
  });

  it("an anonymous caller cannot spend another tenant's rate-limit budget", async () => {
    // Refused outright: an unverified tenant is never a budget key.
    expect((await send('/limited/x', ['X-Tenant-ID', 'victim'])).status).toBe(403);
    expect((await send('/limited/x', ['X-Tenant-ID', 'victim'])).status).toBe(403);
    // The victim's own (verified) request still has its whole budget.
    const victim = await send('/limited/x', ['Authorization', `Bearer ${token('v', ['victim'])}`]);
    expect(victim.status).toBe(200);
  });

  it("with tenantPathSegment each request is charged to the path's tenant, not the first one", async () => {
    const both = `Bearer ${token('multi', ['a', 'b'])}`;
    expect((await send('/reg/a/x', ['Authorization', both])).status).toBe(200);
    expect((await send('/reg/b/x', ['Authorization', both])).status).toBe(200);
    expect((await send('/reg/a/y', ['Authorization', both])).status).toBe(429);
  });

  it('a tenant header that disagrees with the path tenant is refused', async () => {
    const both = `Bearer ${token('multi2', ['c', 'd'])}`;
    const res = await send('/reg/c/x', ['Authorization', both, 'X-Tenant-ID', 'd']);
    expect(res.status).toBe(403);
    expect(json(res).error_code).toBe('TENANT_FORBIDDEN');
  });
});

describe('embedded: the same decisions as serve', () => {
  let upstream: TestUpstream;
  let gate: Authgate;
  let app: ListeningApp;
  let base: string;

  beforeAll(async () => {
    upstream = await startUpstream();
    gate = await createAuthgate(
      { auth, routes: [] },
      { logger: createLogger({ level: 'error', stream: new LogCapture() }) },
    );
    const ex = express();
    const echo: express.RequestHandler = (req, res) => {
      res.json({ url: req.url, user: req.headers['x-user-id'] ?? null });
    };
    ex.get('/opt', gate.authenticate({ optional: true }), echo);
    ex.get('/ws', gate.authenticate({ tenantHeader: 'X-Workspace' }), echo);
    ex.use(
      '/reports',
      gate.authenticate({ scopes: ['reports:read'] }),
      createProxyMiddleware({ target: upstream.url }),
    );
    app = await listen(ex);
    base = app.url;
  });
  afterAll(async () => {
    await app.close();
    await gate.close();
    await upstream.close();
  });
  const send = (path: string, headers: string[] = []) =>
    rawRequest(base, { path, headers: ['Host', 'app.example', ...headers] });

  it.each([
    [['X-User-ID', 'admin'], 403, 'IDENTITY_MISMATCH'],
    [['X-Tenant-ID', 'bigcorp'], 403, 'TENANT_FORBIDDEN'],
  ])('authenticate({optional: true}) refuses an anonymous %j', async (headers, status, code) => {
    const res = await send('/opt', headers);
    expect(res.status).toBe(status);
    expect(json(res).error_code).toBe(code);
  });

  it('authenticate({tenantHeader}) refuses the underscore spelling of its tenant header', async () => {
    const res = await send('/ws', [
      'Authorization',
      `Bearer ${token('alice', ['t1'])}`,
      'X_Workspace',
      'victim',
    ]);
    expect(res.status).toBe(400);
    expect(json(res).error_code).toBe('BAD_REQUEST');
  });

  it('authenticate({tenantHeader}) checks the tenant header against the principal', async () => {
    const bearer = `Bearer ${token('alice', ['t1'])}`;
    expect((await send('/ws', ['Authorization', bearer, 'X-Workspace', 't1'])).status).toBe(200);
    expect((await send('/ws', ['Authorization', bearer, 'X-Workspace', 'victim'])).status).toBe(
      403,
    );
  });

  it.each(['/reports/../admin-api/users', '/reports/%2e%2e/admin-api/users', '/reports/./x'])(
    'authenticate() in front of http-proxy-middleware refuses dot-segments: %s',
    async (path) => {
      const before = upstream.seen.length;
      const res = await send(path, ['Authorization', `Bearer ${token('r')}`]);
      expect(res.status).toBe(400);
      expect(upstream.seen.length).toBe(before);
    },
  );

  it('a plain path still goes through to the proxy behind (relative to the mount)', async () => {
    const res = await send('/reports/q1?x=1', ['Authorization', `Bearer ${token('r')}`]);
    expect(res.status).toBe(200);
    expect(upstream.seen.at(-1)!.url).toBe('/q1?x=1');
  });
});
