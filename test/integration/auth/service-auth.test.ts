/**
 * authgate's own credential towards the API-key service (`auth.apiKeys.serviceAuth`): sent on
 * every validate call; when the service refuses it (401/403), every key is answered 503 with
 * one error line, never "key invalid"; credentials in the URL are refused by check-config.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAuthService, type AuthService } from '../../helpers/auth-service';
import { makePki, type Pki } from '../../helpers/pki';
import { runCli, writeConfig } from '../../helpers/process';
import {
  rawRequest,
  startProxy,
  startUpstream,
  type TestProxy,
  type TestUpstream,
} from '../../helpers/servers';

const KEY = 'hok_live_service-auth-key-0123456789';
const HASH = 'service-auth-hash-secret-0123456789abcdefgh';

describe("authgate's own credential towards the auth service", () => {
  let service: AuthService;
  let upstream: TestUpstream;
  const proxies: TestProxy[] = [];

  beforeAll(async () => {
    service = await startAuthService();
    service.keys.set(KEY, { user_id: 'ci', scopes: ['read'] });
    service.requireAuthorization = 'Bearer service-token-0123456789';
    upstream = await startUpstream();
  });
  afterAll(async () => {
    for (const p of proxies) await p.close();
    await upstream?.close();
    await service?.close();
  });

  function config(serviceAuth?: Record<string, unknown>, validateUrl = service.url) {
    return {
      auth: {
        failedAuthGuard: { maxFailures: 0 },
        apiKeys: {
          prefixes: ['hok_live_'],
          validateUrl,
          hashSecret: HASH,
          retries: 0,
          ...(serviceAuth ? { serviceAuth } : {}),
        },
      },
      routes: [
        { name: 'api', prefix: '/', upstream: upstream.url, auth: 'required', scopes: ['read'] },
      ],
    };
  }

  async function start(serviceAuth?: Record<string, unknown>): Promise<TestProxy> {
    const proxy = await startProxy(
      config(serviceAuth),
      {},
      { AUTH_SERVICE_TOKEN: 'service-token-0123456789' },
    );
    proxies.push(proxy);
    return proxy;
  }

  const call = (proxy: TestProxy, key = KEY) =>
    rawRequest(proxy.url, { path: '/x', headers: ['Host', 'a', 'X-API-Key', key] });

  test('sent on every validate call, from the environment', async () => {
    const proxy = await start({ value: 'Bearer ${AUTH_SERVICE_TOKEN}' });
    const before = service.authorizations.length;
    expect((await call(proxy)).status).toBe(200);
    expect(service.authorizations.slice(before)).toEqual(['Bearer service-token-0123456789']);
  });

  test('refused by the service: 503, never "key invalid", and one error line', async () => {
    const proxy = await start({ value: 'Bearer wrong-token' });
    const answers = await Promise.all([0, 1, 2, 3, 4].map(() => call(proxy)));
    for (const res of answers) {
      expect(res.status).toBe(503);
      expect(JSON.parse(res.body.toString())).toMatchObject({
        error_code: 'AUTH_SERVICE_UNAVAILABLE',
      });
    }
    const lines = proxy.logs.entries();
    expect(
      lines.filter(
        (l) => l.message === "auth service refused authgate's own credential (serviceAuth)",
      ),
    ).toEqual([expect.objectContaining({ level: 'error', status: 401 })]);
    expect(lines.some((l) => l.type === 'audit' && l.reason === 'auth_service_refused')).toBe(true);
    expect(proxy.logs.text()).not.toContain('wrong-token');
  });

  test('without serviceAuth, a 401 from the service still means the key is invalid', async () => {
    const proxy = await start();
    const res = await call(proxy);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body.toString())).toMatchObject({ error_code: 'API_KEY_INVALID' });
  });

  test.each<[string, () => Record<string, unknown>, RegExp]>([
    [
      'credentials in validateUrl',
      () => config(undefined, 'http://user:secret@127.0.0.1:1/validate'),
      /auth\.apiKeys\.validateUrl: must not contain credentials/,
    ],
    [
      'an empty credential',
      () => config({ value: '' }),
      /auth\.apiKeys\.serviceAuth\.value: is empty/,
    ],
  ])('check-config refuses %s', async (_w, raw, expected) => {
    const res = await runCli(['check-config', '--config', writeConfig(raw())]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(expected);
    expect(res.stderr).not.toContain('secret@');
  });

  test('from the provider chain: a mounted token file, never logged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'authgate-svc-'));
    const file = join(dir, 'token');
    writeFileSync(file, 'service-token-0123456789');
    const proxy = await start({ providers: [{ type: 'file', path: file, scheme: 'bearer' }] });
    const before = service.authorizations.length;
    expect((await call(proxy)).status).toBe(200);
    expect(service.authorizations.slice(before)).toEqual(['Bearer service-token-0123456789']);
    expect(proxy.logs.text()).not.toContain('service-token-0123456789');
  });

  test('a provider chain that yields nothing: 503 and one error line saying why, never "key invalid"', async () => {
    const proxy = await start({
      providers: [{ type: 'file', path: '/nonexistent/authgate/token', scheme: 'bearer' }],
    });
    const before = service.calls;
    const answers = await Promise.all([0, 1, 2].map(() => call(proxy)));
    for (const res of answers) {
      expect(res.status).toBe(503);
      expect(JSON.parse(res.body.toString())).toMatchObject({
        error_code: 'AUTH_SERVICE_UNAVAILABLE',
      });
    }
    // Nothing was sent without the credential.
    expect(service.calls).toBe(before);
    const lines = proxy.logs
      .entries()
      .filter((l) => l.message === 'no credential for the auth service (serviceAuth.providers)');
    expect(lines).toEqual([expect.objectContaining({ level: 'error' })]);
    expect(String(lines[0]?.reasons)).toMatch(/nonexistent/);
  });

  test('check-config refuses value and providers together, and a serviceAuth with no credential', async () => {
    const both = await runCli([
      'check-config',
      '--config',
      writeConfig(config({ value: 'Bearer x', providers: ['env'] })),
    ]);
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/serviceAuth: set value or providers, not both/);
    const none = await runCli(['check-config', '--config', writeConfig(config({}))]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/serviceAuth: needs a credential/);
  });
});

describe('a client certificate towards the auth service (serviceAuth.tls)', () => {
  let pki: Pki;
  let service: AuthService;
  let upstream: TestUpstream;

  beforeAll(async () => {
    pki = makePki();
    const server = pki.issue('auth-service', {
      cn: 'auth.internal',
      san: 'DNS:auth.internal',
      server: true,
    });
    service = await startAuthService({
      tls: {
        cert: readFileSync(server.cert),
        key: readFileSync(server.key),
        ca: readFileSync(pki.ca.cert),
        requestCert: true,
        rejectUnauthorized: true,
      },
    });
    service.keys.set(KEY, { user_id: 'ci', scopes: ['read'] });
    upstream = await startUpstream();
  });
  afterAll(async () => {
    await upstream?.close();
    await service?.close();
  });

  async function withProxy(
    serviceAuth: Record<string, unknown>,
    run: (p: TestProxy) => Promise<void>,
  ) {
    const proxy = await startProxy({
      auth: {
        failedAuthGuard: { maxFailures: 0 },
        apiKeys: {
          prefixes: ['hok_live_'],
          validateUrl: service.url,
          hashSecret: HASH,
          retries: 0,
          serviceAuth,
        },
      },
      routes: [
        { name: 'api', prefix: '/', upstream: upstream.url, auth: 'required', scopes: ['read'] },
      ],
    });
    try {
      await run(proxy);
    } finally {
      await proxy.close();
    }
  }

  const call = (proxy: TestProxy) =>
    rawRequest(proxy.url, { path: '/x', headers: ['Host', 'a', 'X-API-Key', KEY] });

  test('authgate presents its certificate and checks the service under serverName', async () => {
    const client = pki.issue('authgate-to-auth', { cn: 'authgate' });
    await withProxy(
      {
        tls: {
          caFile: pki.ca.cert,
          certFile: client.cert,
          keyFile: client.key,
          serverName: 'auth.internal',
        },
      },
      async (proxy) => {
        expect((await call(proxy)).status).toBe(200);
      },
    );
  });

  test('without its certificate, or under another name: 503, never "key invalid"', async () => {
    const client = pki.issue('authgate-to-auth-2', { cn: 'authgate' });
    for (const serviceAuth of [
      { value: 'Bearer t', tls: { caFile: pki.ca.cert, serverName: 'auth.internal' } },
      {
        tls: {
          caFile: pki.ca.cert,
          certFile: client.cert,
          keyFile: client.key,
          serverName: 'other',
        },
      },
    ]) {
      await withProxy(serviceAuth, async (proxy) => {
        const res = await call(proxy);
        expect(res.status).toBe(503);
        expect(JSON.parse(res.body.toString())).toMatchObject({
          error_code: 'AUTH_SERVICE_UNAVAILABLE',
        });
      });
    }
  });
});
