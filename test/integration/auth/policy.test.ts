import request from 'supertest';
import { startWsUpstream, upgrade } from '../../helpers/websocket';
import {
  pairs,
  rawRequest,
  route,
  startProxy,
  startUpstream,
  type TestProxy,
  type TestUpstream,
} from '../../helpers/servers';
import { sign } from '../../helpers/jwks';

const SECRET = 'policy-test-secret-0123456789abcdefghij';
const token = (claims: Record<string, unknown> = {}, sub = 'alice'): string =>
  sign(SECRET, { iss: 'policy', sub, claims: { scope: 'read', tenant_ids: ['t1'], ...claims } });

function jwtAuth(): Record<string, unknown> {
  return {
    jwt: {
      issuers: [{ issuer: 'policy', audience: 'api', algorithms: ['HS256'], secret: SECRET }],
    },
  };
}

describe('per-route policy, tenants and identity headers', () => {
  let upstream: TestUpstream;
  let proxy: TestProxy;
  let internalProxy: TestProxy;

  beforeAll(async () => {
    upstream = await startUpstream();
    const routes = [
      route(upstream.url, {
        name: 'required',
        prefix: '/req',
        auth: 'required',
        scopes: { GET: ['read'], '*': ['write'] },
      }),
      route(upstream.url, { name: 'optional', prefix: '/opt', auth: 'optional' }),
      route(upstream.url, { name: 'open', prefix: '/open', auth: 'none' }),
      route(upstream.url, {
        name: 'cors',
        prefix: '/cors',
        auth: 'required',
        cors: { preflight: true },
      }),
      route(upstream.url, {
        name: 'ws-tenant',
        prefix: '/ws',
        auth: 'required',
        tenantHeader: 'X-Workspace',
      }),
    ];
    proxy = await startProxy({ auth: jwtAuth(), routes });
    internalProxy = await startProxy({
      server: { internalNetworks: ['127.0.0.0/8'] },
      auth: jwtAuth(),
      routes,
    });
  });
  afterAll(async () => {
    await proxy.close();
    await internalProxy.close();
    await upstream.close();
  });

  const last = () => pairs(upstream.seen[upstream.seen.length - 1]!.rawHeaders);

  it('scopes per method: GET needs read, POST needs write', async () => {
    expect(
      (await request(proxy.url).get('/req').set('Authorization', `Bearer ${token()}`)).status,
    ).toBe(200);
    const post = await request(proxy.url).post('/req').set('Authorization', `Bearer ${token()}`);
    expect(post.status).toBe(403);
    expect(post.body.error_code).toBe('INSUFFICIENT_SCOPE');
    expect(post.headers['www-authenticate']).toContain('error="insufficient_scope"');
    const w = await request(proxy.url)
      .post('/req')
      .set('Authorization', `Bearer ${token({ scope: 'read write' })}`);
    expect(w.status).toBe(200);
  });

  it.each(['HEAD', 'OPTIONS', 'DELETE', 'PATCH'])(
    '%s goes through the same authentication',
    async (method) => {
      const res = await rawRequest(proxy.url, { method, path: '/req', headers: ['Host', 'h'] });
      expect(res.status).toBe(401);
    },
  );

  it("X-Tenant-ID: one of the principal's tenants passes, another is 403 TENANT_FORBIDDEN", async () => {
    const ok = await request(proxy.url)
      .get('/req')
      .set('Authorization', `Bearer ${token()}`)
      .set('X-Tenant-ID', 't1');
    expect(ok.status).toBe(200);
    expect(last()).toContainEqual(['X-Tenant-ID', 't1']);
    const no = await request(proxy.url)
      .get('/req')
      .set('Authorization', `Bearer ${token()}`)
      .set('X-Tenant-ID', 't2');
    expect(no.status).toBe(403);
    expect(no.body.error_code).toBe('TENANT_FORBIDDEN');
  });

  it('a cached token decision for one tenant never serves another', async () => {
    const t = token({ tenant_ids: ['t1'] });
    expect(
      (
        await request(proxy.url)
          .get('/req')
          .set('Authorization', `Bearer ${t}`)
          .set('X-Tenant-ID', 't1')
      ).status,
    ).toBe(200);
    expect(
      (
        await request(proxy.url)
          .get('/req')
          .set('Authorization', `Bearer ${t}`)
          .set('X-Tenant-ID', 't9')
      ).status,
    ).toBe(403);
  });

  it('X-User-ID absent → set; equal → untouched; different → 403 IDENTITY_MISMATCH', async () => {
    await request(proxy.url).get('/req').set('Authorization', `Bearer ${token()}`);
    expect(last().filter(([n]) => n.toLowerCase() === 'x-user-id')).toEqual([
      ['X-User-ID', 'alice'],
    ]);
    await rawRequest(proxy.url, {
      path: '/req',
      headers: ['Host', 'h', 'Authorization', `Bearer ${token()}`, 'x-user-id', 'alice'],
    });
    expect(last().filter(([n]) => n.toLowerCase() === 'x-user-id')).toEqual([
      ['x-user-id', 'alice'],
    ]);
    const bad = await request(proxy.url)
      .get('/req')
      .set('Authorization', `Bearer ${token()}`)
      .set('X-User-ID', 'mallory');
    expect(bad.status).toBe(403);
    expect(bad.body.error_code).toBe('IDENTITY_MISMATCH');
  });

  it('internalNetworks callers may pass a different X-User-ID through', async () => {
    const res = await request(internalProxy.url)
      .get('/req')
      .set('Authorization', `Bearer ${token({}, 'svc-orders')}`)
      .set('X-User-ID', 'alice');
    expect(res.status).toBe(200);
    expect(last().filter(([n]) => n.toLowerCase() === 'x-user-id')).toEqual([
      ['X-User-ID', 'alice'],
    ]);
  });

  it.each([
    ['X_User_ID', 'alice'],
    ['x_tenant_id', 't1'],
    ['X_Request_ID', 'r1'],
    ['X_API_Key', 'hok_x'],
  ])('refuses the underscore spelling %s with 400', async (name, value) => {
    const res = await rawRequest(proxy.url, {
      path: '/req',
      headers: ['Host', 'h', 'Authorization', `Bearer ${token()}`, name, value],
    });
    expect(res.status).toBe(400);
  });

  it('refuses two different X-User-ID values with 400', async () => {
    const res = await rawRequest(proxy.url, {
      path: '/req',
      headers: ['Host', 'h', 'X-User-ID', 'a', 'X-User-ID', 'b'],
    });
    expect(res.status).toBe(400);
  });

  it('auth optional: no credential passes without X-User-ID; a bad one is 401', async () => {
    const anon = await request(proxy.url).get('/opt');
    expect(anon.status).toBe(200);
    expect(last().map(([n]) => n.toLowerCase())).not.toContain('x-user-id');
    expect(
      (await request(proxy.url).get('/opt').set('Authorization', 'Bearer eyJhbGciOi.bad.sig'))
        .status,
    ).toBe(401);
    await request(proxy.url).get('/opt').set('Authorization', `Bearer ${token()}`);
    expect(last()).toContainEqual(['X-User-ID', 'alice']);
  });

  it('auth none: credentials are not checked and forwarded untouched', async () => {
    expect(
      (await request(proxy.url).get('/open').set('Authorization', 'Bearer whatever')).status,
    ).toBe(200);
    expect(last()).toContainEqual(['Authorization', 'Bearer whatever']);
  });

  it('CORS preflight passes without credentials only where the route allows it', async () => {
    const preflight = (path: string) =>
      request(proxy.url)
        .options(path)
        .set('Origin', 'https://app.example')
        .set('Access-Control-Request-Method', 'POST');
    expect((await preflight('/cors')).status).toBe(200);
    expect((await preflight('/req')).status).toBe(401);
    // a plain OPTIONS (no preflight headers) on the CORS route still needs credentials
    expect((await request(proxy.url).options('/cors')).status).toBe(401);
  });
});

describe('WebSocket upgrades', () => {
  let ws: Awaited<ReturnType<typeof startWsUpstream>>;
  let proxy: TestProxy;
  beforeAll(async () => {
    ws = await startWsUpstream();
    proxy = await startProxy({
      auth: jwtAuth(),
      routes: [
        route(ws.url, { name: 'ws', prefix: '/ws', auth: 'required', ws: true, scopes: ['read'] }),
        route(ws.url, { name: 'plain', prefix: '/plain', auth: 'required' }),
      ],
    });
  });
  afterAll(async () => {
    await proxy.close();
    await ws.close();
  });

  it('authenticated upgrade on a ws route: 101 and bytes flow both ways', async () => {
    const res = await upgrade(`${proxy.url}/ws/chat`, { Authorization: `Bearer ${token()}` });
    expect(res.status).toBe(101);
    const echoed = await new Promise<string>((resolve) => {
      res.socket!.once('data', (d: Buffer) => resolve(d.toString()));
      res.socket!.write('ping-through-proxy');
    });
    expect(echoed).toBe('ping-through-proxy');
    const seen = pairs(ws.upgrades[ws.upgrades.length - 1]!);
    expect(seen).toContainEqual(['X-User-ID', 'alice']);
    expect(seen).toContainEqual(['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ==']);
    res.socket!.destroy();
  });

  it('no 101 before authentication: a missing token is 401 and the upstream sees nothing', async () => {
    const before = ws.upgrades.length;
    const res = await upgrade(`${proxy.url}/ws/chat`, {});
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body).error_code).toBe('AUTH_REQUIRED');
    expect(ws.upgrades.length).toBe(before);
  });

  it('authorisation applies: a missing scope is 403', async () => {
    const res = await upgrade(`${proxy.url}/ws/chat`, {
      Authorization: `Bearer ${token({ scope: 'other' })}`,
    });
    expect(res.status).toBe(403);
  });

  it('routes without ws: true refuse upgrades', async () => {
    const before = ws.upgrades.length;
    const res = await upgrade(`${proxy.url}/plain/x`, { Authorization: `Bearer ${token()}` });
    expect(res.status).toBe(400);
    expect(ws.upgrades.length).toBe(before);
  });
});
