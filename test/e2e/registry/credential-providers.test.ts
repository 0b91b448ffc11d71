/**
 * Every credential provider exercised against a real peer — the distribution registry
 * with htpasswd basic auth for env, file, dockerConfig and command; a real HTTP upstream and an
 * OAuth2 token endpoint for oauth2ClientCredentials. A rotated file is picked up without a
 * restart, a burst runs the command once, a realm off the allow-list is never asked, a challenged
 * request with a small body is sent again, and `when-absent` only serves internal callers.
 */
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { startAuthService } from '../../helpers/auth-service';
import { startWsUpstream, upgrade } from '../../helpers/websocket';
import { sign } from '../../helpers/jwks';
import { ManualClock } from '../../helpers/manual-clock';
import {
  issuerCertificate,
  startRegistry,
  startTokenServer,
  type Registry,
  type TokenServer,
} from '../../helpers/registry';
import {
  pairs,
  rawRequest,
  startProxy,
  startUpstream,
  type SeenRequest,
  type TestUpstream,
} from '../../helpers/servers';

const SECRET = 'credential-providers-test-secret-0123456789abcdef';
const USER = 'svc';
const PASSWORD = 'registry-secret-9b1e';
const dir = mkdtempSync(join(tmpdir(), 'authgate-creds-'));

const jwt = (scope = 'registry:pull registry:push', tenants = ['acme']): string =>
  sign(SECRET, {
    iss: 'dev-issuer',
    expiresInSec: 3600,
    claims: { scope, tenant_ids: tenants },
  });
const issuers = {
  jwt: { issuers: [{ issuer: 'dev-issuer', algorithms: ['HS256'], secret: SECRET }] },
};

function registryRoute(upstream: string, upstreamAuth: Record<string, unknown>) {
  return {
    auth: issuers,
    routes: [{ name: 'registry', prefix: '/v2', upstream, tenantPathSegment: 1, upstreamAuth }],
  };
}

function get(url: string, path: string, token = jwt()) {
  const u = new URL(url);
  return rawRequest(url, {
    path,
    headers: ['Host', u.host, 'Authorization', `Bearer ${token}`],
  });
}

const header = (seen: SeenRequest, name: string): string[] =>
  pairs(seen.rawHeaders)
    .filter(([n]) => n.toLowerCase() === name.toLowerCase())
    .map(([, v]) => v);

describe('credential providers against the real registry (htpasswd)', () => {
  let registry: Registry;
  beforeAll(async () => {
    registry = await startRegistry({ kind: 'htpasswd', username: USER, password: PASSWORD });
  });
  afterAll(() => registry.close());

  it('env: REGISTRY_USERNAME + REGISTRY_PASSWORD; a wrong password is the upstream’s 401', async () => {
    const good = await startProxy(
      registryRoute(registry.url, { mode: 'service', providers: [{ type: 'env' }] }),
      {
        env: { REGISTRY_USERNAME: USER, REGISTRY_PASSWORD: PASSWORD },
      },
    );
    const bad = await startProxy(
      registryRoute(registry.url, { mode: 'service', providers: [{ type: 'env' }] }),
      {
        env: { REGISTRY_USERNAME: USER, REGISTRY_PASSWORD: 'wrong' },
      },
    );
    try {
      expect((await get(good.url, '/v2/')).status).toBe(200);
      const refused = await get(bad.url, '/v2/');
      expect(refused.status).toBe(401);
      expect(JSON.parse(refused.body.toString())).toMatchObject({
        error_code: 'UPSTREAM_UNAUTHENTICATED',
        origin: 'upstream',
      });
      // authgate's own challenge, never the registry's realm.
      expect(refused.headers['www-authenticate']).toBe('Bearer realm="authgate"');
      expect(good.logs.text() + bad.logs.text()).not.toContain(PASSWORD);
    } finally {
      await good.close();
      await bad.close();
    }
  });

  it("a cross-repository mount: from the caller's own tenant the registry mounts it, from another tenant's repository it is refused before the registry", async () => {
    const proxy = await startProxy(
      registryRoute(registry.url, { mode: 'service', providers: [{ type: 'env' }] }),
      { env: { REGISTRY_USERNAME: USER, REGISTRY_PASSWORD: PASSWORD } },
    );
    const send = (method: string, path: string, tenants: string[], body = '') =>
      rawRequest(proxy.url, {
        method,
        path,
        headers: [
          'Host',
          `127.0.0.1:${proxy.port}`,
          'Authorization',
          `Bearer ${jwt('registry:pull registry:push', tenants)}`,
          'Content-Type',
          'application/octet-stream',
          'Content-Length',
          String(Buffer.byteLength(body)),
        ],
        body,
      });
    const push = async (repo: string, tenant: string, blob: string): Promise<string> => {
      const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
      const opened = await send('POST', `/v2/${repo}/blobs/uploads/`, [tenant]);
      expect(opened.status).toBe(202);
      const location = new URL(String(opened.headers.location), proxy.url);
      const sep = location.search === '' ? '?' : '&';
      const put = await send(
        'PUT',
        `${location.pathname}${location.search}${sep}digest=${encodeURIComponent(digest)}`,
        [tenant],
        blob,
      );
      expect(put.status).toBe(201);
      return digest;
    };
    try {
      const own = await push('acme/src', 'acme', 'acme model weights\n');
      const mounted = await send('POST', `/v2/acme/dst/blobs/uploads/?mount=${own}&from=acme/src`, [
        'acme',
      ]);
      expect(mounted.status).toBe(201);
      const secret = await push('beta/secret', 'beta', 'beta private weights\n');
      const before = registry.accessLog().length;
      for (const from of ['beta/secret', 'beta%2Fsecret', '%62eta/secret']) {
        const refused = await send(
          'POST',
          `/v2/acme/stolen/blobs/uploads/?mount=${secret}&from=${from}`,
          ['acme'],
        );
        expect(refused.status).toBe(403);
        expect(JSON.parse(refused.body.toString()).error_code).toBe('TENANT_FORBIDDEN');
      }
      expect(registry.accessLog().slice(before)).toEqual([]);
      // The blob never reached acme's repository.
      const head = await send('HEAD', `/v2/acme/stolen/blobs/${secret}`, ['acme']);
      expect(head.status).toBe(404);
    } finally {
      await proxy.close();
    }
  });

  it('env: none of the variables set is a typed 502, each provider’s reason logged', async () => {
    const proxy = await startProxy(
      registryRoute(registry.url, { mode: 'service', providers: [{ type: 'env' }] }),
      { env: {} },
    );
    try {
      const res = await get(proxy.url, '/v2/');
      expect(res.status).toBe(502);
      expect(JSON.parse(res.body.toString()).error_code).toBe('UPSTREAM_UNAVAILABLE');
      const line = proxy.logs.entries().find((e) => e.message === 'no upstream credential');
      expect(line).toMatchObject({ route: 'registry' });
      expect(String(line?.reasons)).toContain('REGISTRY_USERNAME+REGISTRY_PASSWORD');
    } finally {
      await proxy.close();
    }
  });

  it('file: a rotated secret is picked up without a restart', async () => {
    const file = join(dir, 'registry-secret.json');
    writeFileSync(file, JSON.stringify({ username: USER, password: 'old-rotated-out' }));
    const proxy = await startProxy(
      registryRoute(registry.url, { mode: 'service', providers: [{ type: 'file', path: file }] }),
    );
    try {
      expect((await get(proxy.url, '/v2/')).status).toBe(401);
      // Rotation the way a Secret volume does it: a new file moved into place.
      writeFileSync(`${file}.new`, JSON.stringify({ username: USER, password: PASSWORD }));
      renameSync(`${file}.new`, file);
      expect((await get(proxy.url, '/v2/')).status).toBe(200);
      writeFileSync(file, JSON.stringify({ username: USER, password: 'revoked-again' }));
      expect((await get(proxy.url, '/v2/')).status).toBe(401);
    } finally {
      await proxy.close();
    }
  });

  it('dockerConfig: the auths entry of the registry, spelled with a scheme', async () => {
    const config = join(dir, 'docker', 'config.json');
    mkdirSync(join(dir, 'docker'), { recursive: true });
    writeFileSync(
      config,
      JSON.stringify({
        auths: {
          'https://index.docker.io/v1/': { auth: Buffer.from('hub:other').toString('base64') },
          [`http://${registry.host}`]: {
            auth: Buffer.from(`${USER}:${PASSWORD}`).toString('base64'),
          },
        },
      }),
    );
    const proxy = await startProxy(
      registryRoute(registry.url, { mode: 'service', providers: [{ type: 'dockerConfig' }] }),
      { env: { DOCKER_CONFIG: join(dir, 'docker') } },
    );
    try {
      expect((await get(proxy.url, '/v2/')).status).toBe(200);
    } finally {
      await proxy.close();
    }
  });

  it('command: argv without a shell, JSON parsed, a burst of requests runs it once', async () => {
    const counter = join(dir, 'command-runs');
    writeFileSync(counter, '');
    const script = [
      `require('fs').appendFileSync(${JSON.stringify(counter)}, 'x');`,
      `setTimeout(() => console.log(JSON.stringify({ username: ${JSON.stringify(USER)},`,
      ` password: ${JSON.stringify(PASSWORD)}, expires_in: 600 })), 200);`,
    ].join('');
    const clock = new ManualClock();
    const proxy = await startProxy(
      registryRoute(registry.url, {
        mode: 'service',
        providers: [
          { type: 'env' },
          // "$(...)" would run in a shell; here it is one literal argument.
          { type: 'command', argv: [process.execPath, '-e', script, '$(touch /tmp/pwned)'] },
        ],
      }),
      { env: {}, clock },
    );
    try {
      const burst = await Promise.all(Array.from({ length: 12 }, () => get(proxy.url, '/v2/')));
      expect(burst.map((r) => r.status)).toEqual(Array(12).fill(200));
      expect(readFileSync(counter, 'utf8')).toBe('x');
      // Cached until refreshBeforeSec (60 s) before its expiry (600 s), then run again.
      await clock.advance(500_000);
      expect((await get(proxy.url, '/v2/')).status).toBe(200);
      expect(readFileSync(counter, 'utf8')).toBe('x');
      await clock.advance(60_000);
      expect((await get(proxy.url, '/v2/')).status).toBe(200);
      expect(readFileSync(counter, 'utf8')).toBe('xx');
      expect(proxy.logs.text()).not.toContain(PASSWORD);
    } finally {
      await proxy.close();
    }
  });

  it('command: a failing command says why without its output, the next provider is used', async () => {
    const proxy = await startProxy(
      registryRoute(registry.url, {
        mode: 'service',
        providers: [
          {
            type: 'command',
            argv: [process.execPath, '-e', `console.log('${PASSWORD}'); process.exit(3)`],
          },
          {
            type: 'command',
            argv: [process.execPath, '-e', 'setTimeout(() => {}, 5000)'],
            timeoutMs: 200,
          },
        ],
      }),
      { env: {} },
    );
    try {
      const res = await get(proxy.url, '/v2/');
      expect(res.status).toBe(502);
      const line = proxy.logs.entries().find((e) => e.message === 'no upstream credential');
      expect(line?.reasons).toEqual([
        `command ${process.execPath}: exited with code 3`,
        `command ${process.execPath}: timed out after 200 ms`,
      ]);
      expect(proxy.logs.text()).not.toContain(PASSWORD);
      expect(res.body.toString()).not.toContain(PASSWORD);
    } finally {
      await proxy.close();
    }
  });
});

/** A route in front of `upstream` with upstreamAuth when-absent (SVC_TOKEN), callers in `internal`. */
const whenAbsent = (upstream: string, internal: string[], auth: 'optional' | 'required') => ({
  server: { internalNetworks: internal },
  auth: issuers,
  routes: [
    {
      name: 'svc',
      prefix: '/svc',
      upstream,
      auth,
      scopes: auth === 'required' ? ['read'] : [],
      upstreamAuth: {
        mode: 'when-absent',
        providers: [{ type: 'env', serviceTokenVar: 'SVC_TOKEN' }],
      },
    },
  ],
});

describe('oauth2ClientCredentials against a real upstream and token endpoint', () => {
  let upstream: TestUpstream;
  let tokenEndpoint: Server;
  let tokenUrl: string;
  const seenToken: Array<{ authorization?: string; body: string }> = [];

  beforeAll(async () => {
    upstream = await startUpstream();
    tokenEndpoint = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seenToken.push({ authorization: req.headers.authorization, body });
        const ok =
          req.headers.authorization ===
          `Basic ${Buffer.from('client-1:s3cr3t%2F').toString('base64')}`;
        res.writeHead(ok ? 200 : 401, { 'Content-Type': 'application/json' });
        res.end(
          JSON.stringify(
            ok
              ? {
                  access_token: `svc-token-${seenToken.length}`,
                  token_type: 'Bearer',
                  expires_in: 120,
                }
              : { error: 'invalid_client' },
          ),
        );
      });
    });
    await new Promise<void>((r) => tokenEndpoint.listen(0, '127.0.0.1', r));
    tokenUrl = `http://127.0.0.1:${(tokenEndpoint.address() as AddressInfo).port}/oauth2/token`;
  });
  afterAll(async () => {
    await upstream.close();
    tokenEndpoint.close();
  });

  it('the service token replaces the caller’s Authorization; identity goes in X-User-ID', async () => {
    const clock = new ManualClock();
    const proxy = await startProxy(
      {
        auth: issuers,
        routes: [
          {
            name: 'svc',
            prefix: '/svc',
            upstream: upstream.url,
            upstreamAuth: {
              mode: 'service',
              providers: [
                {
                  type: 'oauth2ClientCredentials',
                  tokenUrl,
                  clientId: 'client-1',
                  clientSecret: 's3cr3t/',
                  scope: 'inventory.read',
                },
              ],
            },
          },
        ],
      },
      { clock },
    );
    try {
      const caller = jwt('read');
      const burst = await Promise.all(
        Array.from({ length: 8 }, () =>
          rawRequest(proxy.url, {
            path: '/svc/items',
            headers: [
              'Host',
              'gw.test',
              'Authorization',
              `Bearer ${caller}`,
              'X-Tenant-ID',
              'acme',
            ],
          }),
        ),
      );
      expect(burst.map((r) => r.status)).toEqual(Array(8).fill(200));
      expect(seenToken).toHaveLength(1);
      expect(seenToken[0]?.body).toBe('grant_type=client_credentials&scope=inventory.read');
      const seen = upstream.seen.at(-1) as SeenRequest;
      expect(header(seen, 'authorization')).toEqual(['Bearer svc-token-1']);
      expect(header(seen, 'x-user-id')).toEqual(['alice']);
      expect(header(seen, 'x-tenant-id')).toEqual(['acme']);
      // Refreshed refreshBeforeSec before expiry (half the 120 s lifetime at most).
      await clock.advance(61_000);
      await rawRequest(proxy.url, {
        path: '/svc/items',
        headers: ['Host', 'gw.test', 'Authorization', `Bearer ${caller}`],
      });
      expect(seenToken).toHaveLength(2);
      expect(header(upstream.seen.at(-1) as SeenRequest, 'authorization')).toEqual([
        'Bearer svc-token-2',
      ]);
      expect(proxy.logs.text()).not.toContain('svc-token-');
      expect(proxy.logs.text()).not.toContain(caller);
    } finally {
      await proxy.close();
    }
  });

  it('an API-key caller’s key never goes upstream in service mode', async () => {
    const service = await startAuthService();
    const key = 'hok_live_upstreamcredtest0123456789';
    service.keys.set(key, { user_id: 'robot', tenant_ids: ['acme'], scopes: ['read'] });
    const proxy = await startProxy(
      {
        auth: {
          apiKeys: {
            prefixes: ['hok_live_'],
            validateUrl: service.url,
            hashSecret: 'upstream-cred-hash-secret-0123456789',
          },
        },
        routes: [
          {
            name: 'svc',
            prefix: '/svc',
            upstream: upstream.url,
            upstreamAuth: { mode: 'service', providers: [{ type: 'env', tokenVar: 'SVC_TOKEN' }] },
          },
        ],
      },
      { env: { SVC_TOKEN: 'svc-static-token' } },
    );
    try {
      const res = await rawRequest(proxy.url, {
        path: '/svc/x',
        headers: ['Host', 'gw.test', 'X-API-Key', key, 'X-Trace', 'kept'],
      });
      expect(res.status).toBe(200);
      const seen = upstream.seen.at(-1) as SeenRequest;
      expect(header(seen, 'authorization')).toEqual(['Bearer svc-static-token']);
      expect(header(seen, 'x-api-key')).toEqual([]);
      expect(header(seen, 'x-user-id')).toEqual(['robot']);
      expect(header(seen, 'x-trace')).toEqual(['kept']);
      expect(JSON.stringify(seen)).not.toContain(key);
    } finally {
      await proxy.close();
      await service.close();
    }
  });

  it('a WebSocket upgrade in service mode carries authgate’s credential, not the caller’s', async () => {
    const ws = await startWsUpstream();
    const proxy = await startProxy(
      {
        auth: issuers,
        routes: [
          {
            name: 'ws',
            prefix: '/ws',
            upstream: ws.url,
            ws: true,
            upstreamAuth: { mode: 'service', providers: [{ type: 'env', tokenVar: 'WS_TOKEN' }] },
          },
        ],
      },
      { env: { WS_TOKEN: 'ws-service-token' } },
    );
    try {
      const caller = jwt('read');
      const res = await upgrade(`${proxy.url}/ws/stream`, { Authorization: `Bearer ${caller}` });
      expect(res.status).toBe(101);
      res.socket?.destroy();
      const seen = ws.upgrades.at(-1) ?? [];
      const auth = seen.filter(
        (_v, i) => i % 2 === 1 && seen[i - 1]?.toLowerCase() === 'authorization',
      );
      expect(auth).toEqual(['Bearer ws-service-token']);
      expect(seen).not.toContain(`Bearer ${caller}`);
    } finally {
      await proxy.close();
      await ws.close();
    }
  });

  it('when-absent on an auth: required route: an internal caller without a credential passes as authgate, nobody else does', async () => {
    const config = (internal: string[]) => whenAbsent(upstream.url, internal, 'required');
    const env = { SVC_TOKEN: 'internal-svc-token' };
    const inside = await startProxy(config(['127.0.0.0/8']), { env });
    const outside = await startProxy(config(['10.0.0.0/8']), { env });
    try {
      const before = upstream.seen.length;
      const internal = await rawRequest(inside.url, {
        path: '/svc/a',
        headers: ['Host', 'gw.test'],
      });
      expect(internal.status).toBe(200);
      expect(header(upstream.seen.at(-1) as SeenRequest, 'authorization')).toEqual([
        'Bearer internal-svc-token',
      ]);
      const audit = inside.logs.entries().find((e) => e.type === 'audit' && e.path === '/svc/a');
      expect(audit).toMatchObject({ decision: 'allow', reason: 'internal_without_credential' });
      // A credential that fails is never replaced by authgate's.
      const bad = await rawRequest(inside.url, {
        path: '/svc/b',
        headers: ['Host', 'gw.test', 'Authorization', 'Bearer not-a-token'],
      });
      expect(bad.status).toBe(401);
      // Outside internalNetworks, auth: required holds.
      const external = await rawRequest(outside.url, {
        path: '/svc/c',
        headers: ['Host', 'gw.test'],
      });
      expect(external.status).toBe(401);
      expect(JSON.parse(external.body.toString()).error_code).toBe('AUTH_REQUIRED');
      expect(upstream.seen.length).toBe(before + 1);
    } finally {
      await inside.close();
      await outside.close();
    }
  });

  it('when-absent: only an internal caller without a credential gets the service token', async () => {
    const config = (internal: string[]) => whenAbsent(upstream.url, internal, 'optional');
    const env = { SVC_TOKEN: 'internal-svc-token' };
    const inside = await startProxy(config(['127.0.0.0/8']), { env });
    const outside = await startProxy(config(['10.0.0.0/8']), { env });
    try {
      await rawRequest(inside.url, { path: '/svc/a', headers: ['Host', 'gw.test'] });
      expect(header(upstream.seen.at(-1) as SeenRequest, 'authorization')).toEqual([
        'Bearer internal-svc-token',
      ]);
      const caller = jwt('read');
      await rawRequest(inside.url, {
        path: '/svc/b',
        headers: ['Host', 'gw.test', 'Authorization', `Bearer ${caller}`],
      });
      expect(header(upstream.seen.at(-1) as SeenRequest, 'authorization')).toEqual([
        `Bearer ${caller}`,
      ]);
      await rawRequest(outside.url, { path: '/svc/c', headers: ['Host', 'gw.test'] });
      expect(header(upstream.seen.at(-1) as SeenRequest, 'authorization')).toEqual([]);
    } finally {
      await inside.close();
      await outside.close();
    }
  });
});

describe('token exchange edge cases against the real registry (token auth)', () => {
  let registry: Registry;
  let tokens: TokenServer;

  beforeAll(async () => {
    const cert = issuerCertificate(dir);
    tokens = await startTokenServer({
      username: USER,
      password: PASSWORD,
      service: 'edge-registry',
      issuer: 'edge-issuer',
      keyPem: cert.keyPem,
      certPem: cert.certPem,
    });
    registry = await startRegistry({
      kind: 'token',
      realm: tokens.realm,
      service: 'edge-registry',
      issuer: 'edge-issuer',
      certFile: cert.certFile,
    });
  });
  afterAll(async () => {
    await registry.close();
    await tokens.close();
  });

  const env = { REGISTRY_USERNAME: USER, REGISTRY_PASSWORD: PASSWORD };

  it('a realm off the allow-list is never asked, and the caller gets a typed 401', async () => {
    const proxy = await startProxy(
      registryRoute(registry.url, {
        mode: 'service',
        providers: [{ type: 'env' }],
        tokenExchange: { realms: ['http://127.0.0.1:1/token'] },
      }),
      { env },
    );
    const asked = tokens.requests.length;
    try {
      const res = await get(proxy.url, '/v2/acme/app/tags/list');
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body.toString()).error_code).toBe('UPSTREAM_UNAUTHENTICATED');
      expect(tokens.requests.length).toBe(asked);
      expect(
        proxy.logs.entries().find((e) => e.message === 'upstream token realm refused'),
      ).toMatchObject({
        route: 'registry',
        reason: 'realm_not_allowed',
        realm_host: new URL(tokens.realm).host,
      });
    } finally {
      await proxy.close();
    }
  });

  const exchanging = (replayBodyBytes?: number) =>
    startProxy(
      registryRoute(registry.url, {
        mode: 'service',
        providers: [{ type: 'env' }],
        tokenExchange: { realms: [tokens.realm], ...(replayBodyBytes ? { replayBodyBytes } : {}) },
      }),
      { env },
    );

  /** Opens a blob upload through a throwaway authgate; the path (with its signed state) to PUT to. */
  async function openUpload(repo: string): Promise<string> {
    const proxy = await exchanging();
    try {
      const res = await rawRequest(proxy.url, {
        method: 'POST',
        path: `/v2/${repo}/blobs/uploads/`,
        headers: [
          'Host',
          `127.0.0.1:${proxy.port}`,
          'Authorization',
          `Bearer ${jwt()}`,
          'Content-Length',
          '0',
        ],
      });
      expect(res.status).toBe(202);
      const location = new URL(String(res.headers.location), proxy.url);
      return location.pathname + location.search;
    } finally {
      await proxy.close();
    }
  }

  function putBlob(url: string, port: number, uploadPath: string, blob: Buffer) {
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
    return rawRequest(url, {
      method: 'PUT',
      path: `${uploadPath}&digest=${encodeURIComponent(digest)}`,
      headers: [
        'Host',
        `127.0.0.1:${port}`,
        'Authorization',
        `Bearer ${jwt()}`,
        'Content-Type',
        'application/octet-stream',
        'Content-Length',
        String(blob.length),
      ],
      body: blob,
    });
  }

  it('Expect: 100-continue on a token-exchange route: the 100 comes once authenticated, the body follows, 201', async () => {
    const upload = await openUpload('acme/expect');
    const proxy = await exchanging();
    try {
      const blob = Buffer.from('a body sent after 100 Continue\n');
      const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
      const socket = connect(proxy.port, '127.0.0.1');
      socket.on('error', () => undefined);
      let text = '';
      const seen = (pattern: RegExp) =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`no ${pattern} within 10 s: ${text}`)),
            10_000,
          );
          const check = (): void => {
            if (!pattern.test(text)) return;
            clearTimeout(timer);
            socket.off('data', onData);
            resolve();
          };
          const onData = (c: Buffer): void => {
            text += c.toString('latin1');
            check();
          };
          socket.on('data', onData);
          check();
        });
      socket.write(
        `PUT ${upload}&digest=${encodeURIComponent(digest)} HTTP/1.1\r\nHost: 127.0.0.1:${proxy.port}\r\n` +
          `Authorization: Bearer ${jwt()}\r\nContent-Type: application/octet-stream\r\n` +
          `Content-Length: ${blob.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`,
      );
      await seen(/^HTTP\/1\.1 100 Continue\r\n\r\n/);
      socket.write(blob);
      await seen(/HTTP\/1\.1 201 /);
      socket.destroy();
    } finally {
      await proxy.close();
    }
  });

  it('a challenged request with a small body is exchanged for a token and sent once more', async () => {
    const upload = await openUpload('acme/cards');
    const proxy = await exchanging();
    const asked = tokens.requests.length;
    const before = registry.accessLog().length;
    try {
      const blob = Buffer.from('a small model card\n');
      const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
      const res = await putBlob(proxy.url, proxy.port, upload, blob);
      expect(res.status).toBe(201);
      expect(res.headers['docker-content-digest']).toBe(digest);
      const seen = registry.accessLog().slice(before);
      expect(seen.map((l) => l.replace(/\?\S* /, ' '))).toEqual([
        expect.stringMatching(/^PUT \/v2\/acme\/cards\/blobs\/uploads\/[\w-]+ 401$/),
        expect.stringMatching(/^PUT \/v2\/acme\/cards\/blobs\/uploads\/[\w-]+ 201$/),
      ]);
      // distribution lists the actions in either order (a Go map): pull,push or push,pull.
      expect(tokens.requests.slice(asked).map((r) => r.scopes)).toEqual([
        [expect.stringMatching(/^repository:acme\/cards:(pull,push|push,pull)$/)],
      ]);
      // The next request of the same repository is pre-authenticated from the cache.
      const head = await rawRequest(proxy.url, {
        method: 'HEAD',
        path: `/v2/acme/cards/blobs/${digest}`,
        headers: ['Host', `127.0.0.1:${proxy.port}`, 'Authorization', `Bearer ${jwt()}`],
      });
      expect(head.status).toBe(200);
      expect(registry.accessLog().slice(before)).toHaveLength(3);
      expect(tokens.requests.length).toBe(asked + 1);
    } finally {
      await proxy.close();
    }
  });

  it('a body too large to keep is not replayed, but the token is cached for the next request', async () => {
    const upload = await openUpload('acme/big');
    const proxy = await exchanging(8);
    try {
      const blob = Buffer.from('larger than eight bytes');
      const first = await putBlob(proxy.url, proxy.port, upload, blob);
      expect(first.status).toBe(401);
      expect(JSON.parse(first.body.toString()).error_code).toBe('UPSTREAM_UNAUTHENTICATED');
      expect((await putBlob(proxy.url, proxy.port, upload, blob)).status).toBe(201);
    } finally {
      await proxy.close();
    }
  });
});
