/**
 * Where authgate lends its own credential (`upstreamAuth: service`), nothing the caller sends can
 * redirect or reflect it: a registry mount's `from=` must name one of the caller's tenants, TRACE
 * is refused, the upstream gets the configured upstream's Host, a CORS preflight goes up without
 * the credential and without a body, and a rewritten Location is never protocol-relative. The
 * internal hop is decided on the resolved client address, never on a trusted proxy's.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sign } from '../../helpers/jwks';
import { runCli, writeConfig } from '../../helpers/process';
import {
  pairs,
  rawRequest,
  startProxy,
  startUpstream,
  type SeenRequest,
  type TestProxy,
  type TestUpstream,
} from '../../helpers/servers';

const SECRET = 'lending-credential-secret-0123456789abcdef';
const SERVICE_TOKEN = 'authgate-own-service-token';
const token = (tenants: string[] = ['acme'], sub = 'alice'): string =>
  sign(SECRET, {
    iss: 'idp',
    sub,
    expiresInSec: 3600,
    claims: { scope: 'registry:pull registry:push', tenant_ids: tenants },
  });
const auth = {
  failedAuthGuard: { maxFailures: 0 },
  jwt: { issuers: [{ issuer: 'idp', algorithms: ['HS256'], secret: SECRET }] },
};
const header = (seen: SeenRequest, name: string): string[] =>
  pairs(seen.rawHeaders)
    .filter(([n]) => n.toLowerCase() === name)
    .map(([, v]) => v);
const json = (res: { body: Buffer }) => JSON.parse(res.body.toString()) as Record<string, unknown>;

describe('authgate lends its credential only to what the caller may do', () => {
  let upstream: TestUpstream;
  let proxy: TestProxy;
  beforeAll(async () => {
    upstream = await startUpstream();
    const service = { mode: 'service', providers: [{ type: 'env', tokenVar: 'SVC_TOKEN' }] };
    proxy = await startProxy(
      {
        auth,
        routes: [
          {
            name: 'registry',
            prefix: '/v2',
            upstream: upstream.url,
            tenantPathSegment: 1,
            upstreamAuth: service,
          },
          {
            name: 'svc',
            prefix: '/svc',
            upstream: upstream.url,
            cors: { preflight: true },
            upstreamAuth: service,
          },
        ],
      },
      { env: { SVC_TOKEN: SERVICE_TOKEN } },
    );
  });
  afterAll(async () => {
    await proxy.close();
    await upstream.close();
  });
  const send = (method: string, path: string, headers: string[], body?: string) =>
    rawRequest(proxy.url, { method, path, headers: ['Host', 'gw.example', ...headers], body });

  it.each([
    ['from=beta/models', 'from=beta/models'],
    ['from=beta%2Fmodels', 'from=beta%2Fmodels'],
    ['from=%62eta/models', 'from=%62eta/models'],
    ['an encoded parameter name', 'fr%6Fm=beta/models'],
    ['a second from=', 'from=acme/x&from=beta/models'],
  ])(
    "a registry mount naming another tenant's repository (%s) is refused before the registry",
    async (_name, query) => {
      const before = upstream.seen.length;
      const res = await send(
        'POST',
        `/v2/acme/x/blobs/uploads/?mount=sha256:${'a'.repeat(64)}&${query}`,
        ['Authorization', `Bearer ${token(['acme'])}`, 'Content-Length', '0'],
      );
      expect(res.status).toBe(403);
      expect(json(res).error_code).toBe('TENANT_FORBIDDEN');
      expect(upstream.seen.length).toBe(before);
    },
  );

  it.each(['from=acme/../beta/models', 'from=/beta', 'from=acme//x'])(
    'a repository parameter that is not a plain name (%s) is refused',
    async (query) => {
      const res = await send('POST', `/v2/acme/x/blobs/uploads/?mount=sha256:x&${query}`, [
        'Authorization',
        `Bearer ${token(['acme'])}`,
        'Content-Length',
        '0',
      ]);
      expect(res.status).toBe(400);
    },
  );

  it("a mount from the caller's own tenant goes through with authgate's credential", async () => {
    const res = await send('POST', '/v2/acme/x/blobs/uploads/?mount=sha256:x&from=acme/y', [
      'Authorization',
      `Bearer ${token(['acme'])}`,
      'Content-Length',
      '0',
    ]);
    expect(res.status).toBe(200);
    expect(header(upstream.seen.at(-1)!, 'authorization')).toEqual([`Bearer ${SERVICE_TOKEN}`]);
  });

  it.each(['/svc/echo', '/v2/acme/x/manifests/latest'])(
    "TRACE is refused with 405 (%s): it would echo authgate's credential",
    async (path) => {
      const before = upstream.seen.length;
      const res = await send('TRACE', path, ['Authorization', `Bearer ${token()}`]);
      expect(res.status).toBe(405);
      expect(json(res).error_code).toBe('METHOD_NOT_ALLOWED');
      expect(res.headers.allow).toBeDefined();
      expect(upstream.seen.length).toBe(before);
    },
  );

  it("the upstream gets the configured upstream's Host, never the client's, where authgate lends its credential", async () => {
    const res = await send('GET', '/svc/x', [
      'Authorization',
      `Bearer ${token()}`,
      'Host',
      'attacker.apps.internal',
    ]);
    expect(res.status).toBe(200);
    const seen = upstream.seen.at(-1)!;
    expect(header(seen, 'host')).toEqual([new URL(upstream.url).host]);
    expect(header(seen, 'authorization')).toEqual([`Bearer ${SERVICE_TOKEN}`]);
  });

  it("a CORS preflight goes up without authgate's credential and without a body", async () => {
    const res = await send(
      'OPTIONS',
      '/svc/x',
      [
        'Origin',
        'https://app.example',
        'Access-Control-Request-Method',
        'POST',
        'Content-Length',
        '11',
      ],
      'hello world',
    );
    expect(res.status).toBe(200);
    const seen = upstream.seen.at(-1)!;
    expect(seen.method).toBe('OPTIONS');
    expect(header(seen, 'authorization')).toEqual([]);
    expect(seen.bodyBytes).toBe(0);
  });
});

describe("a rewritten Location is never another origin's", () => {
  let upstream: Server;
  let url: string;
  let proxy: TestProxy;
  beforeAll(async () => {
    upstream = createServer((req, res) => {
      const location = decodeURIComponent((req.url ?? '/').split('?to=')[1] ?? '/');
      res.writeHead(302, { Location: `${url}${location}`, 'Content-Length': '0' });
      res.end();
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    proxy = await startProxy(
      {
        auth,
        routes: [
          {
            name: 'svc',
            prefix: '/',
            upstream: url,
            upstreamAuth: { mode: 'service', providers: [{ type: 'env', tokenVar: 'SVC_TOKEN' }] },
          },
        ],
      },
      { env: { SVC_TOKEN: SERVICE_TOKEN } },
    );
  });
  afterAll(async () => {
    await proxy.close();
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
  });

  it.each([
    ['//evil.example/x', '/evil.example/x'],
    ['/\\evil.example/x', '/evil.example/x'],
    ['///evil.example', '/evil.example'],
    ['/ok?a=1', '/ok?a=1'],
  ])('upstream Location <upstream>%s becomes %s', async (path, expected) => {
    const res = await rawRequest(proxy.url, {
      path: `/r?to=${encodeURIComponent(path)}`,
      headers: ['Host', 'gw.example', 'Authorization', `Bearer ${token()}`],
    });
    expect(res.status).toBe(302);
    const location = res.headers.location as string;
    expect(location).toBe(expected);
    expect(location).not.toMatch(/^[/\\]{2}/);
  });
});

describe('the internal hop is decided on the resolved client address', () => {
  let upstream: TestUpstream;
  let proxy: TestProxy;
  beforeAll(async () => {
    upstream = await startUpstream();
    proxy = await startProxy(
      {
        // The load balancer (loopback here) is a trusted proxy; internal callers are 10.20/16.
        server: { trustedProxies: ['127.0.0.1/32'], internalNetworks: ['10.20.0.0/16'] },
        auth,
        routes: [
          {
            name: 'svc',
            prefix: '/svc',
            upstream: upstream.url,
            auth: 'required',
            upstreamAuth: {
              mode: 'when-absent',
              providers: [{ type: 'env', tokenVar: 'SVC_TOKEN' }],
            },
          },
        ],
      },
      { env: { SVC_TOKEN: SERVICE_TOKEN } },
    );
  });
  afterAll(async () => {
    await proxy.close();
    await upstream.close();
  });

  it("an outside client behind the trusted proxy is not internal: no credential → 401, never authgate's", async () => {
    const before = upstream.seen.length;
    const res = await rawRequest(proxy.url, {
      path: '/svc/x',
      headers: ['Host', 'gw.example', 'X-Forwarded-For', '203.0.113.50'],
    });
    expect(res.status).toBe(401);
    expect(upstream.seen.length).toBe(before);
  });

  it('an internal client behind the trusted proxy is internal', async () => {
    const res = await rawRequest(proxy.url, {
      path: '/svc/x',
      headers: ['Host', 'gw.example', 'X-Forwarded-For', '10.20.1.2'],
    });
    expect(res.status).toBe(200);
    expect(header(upstream.seen.at(-1)!, 'authorization')).toEqual([`Bearer ${SERVICE_TOKEN}`]);
  });

  it('non-IP entries in X-Forwarded-For are never the client address', async () => {
    const res = await rawRequest(proxy.url, {
      path: '/svc/x',
      headers: ['Host', 'gw.example', 'X-Forwarded-For', 'unknown, 10.20.1.2-evil'],
    });
    // No address in the chain: the trusted proxy itself is the client, which is not internal.
    expect(res.status).toBe(401);
  });

  it('check-config refuses trustedProxies overlapping internalNetworks', async () => {
    const file = writeConfig({
      server: { trustedProxies: ['10.0.0.0/8'], internalNetworks: ['10.20.0.0/16'] },
      routes: [{ name: 'a', prefix: '/', upstream: 'http://127.0.0.1:9', auth: 'none' }],
    });
    const result = await runCli(['check-config', '--config', file]);
    expect(result.code).toBe(1);
    expect(result.stdout + result.stderr).toMatch(
      /server\.internalNetworks\[0\]: overlaps server\.trustedProxies\[0\]/,
    );
  });
});
