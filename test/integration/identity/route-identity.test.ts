/**
 * What a route sends the upstream about the caller: claims as identity headers (guarded like
 * X-User-ID), the caller's credential kept back (`forwardCredentials: false`, with the identity
 * assertion instead), and the tenant: required, or taken from a token limited to one tenant.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAuthService, type AuthService } from '../../helpers/auth-service';
import { sign } from '../../helpers/jwks';
import {
  pairs,
  rawRequest,
  startProxy,
  startUpstream,
  type RawResponse,
  type SeenRequest,
  type TestProxy,
  type TestUpstream,
} from '../../helpers/servers';

const SECRET = 'route-identity-secret-0123456789abcdefgh';

const token = (claims: Record<string, unknown>) =>
  sign(SECRET, { iss: 'api', sub: 'alice', claims: { scope: 'read', ...claims } });

describe("a route's identity options", () => {
  let upstream: TestUpstream;
  let proxy: TestProxy;
  let service: AuthService;
  const API_KEY = 'hok_live_route-identity-key-0123456789';

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'authgate-ri-'));
    const keyFile = join(dir, 'key.pem');
    writeFileSync(
      keyFile,
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
        type: 'pkcs8',
        format: 'pem',
      }),
    );
    upstream = await startUpstream();
    service = await startAuthService();
    service.keys.set(API_KEY, { user_id: 'ci-bot', scopes: ['read'] });
    const base = { upstream: upstream.url, auth: 'required', scopes: ['read'] };
    proxy = await startProxy({
      identityAssertion: { keyFile },
      auth: {
        jwt: { issuers: [{ issuer: 'api', algorithms: ['HS256'], secret: SECRET }] },
        apiKeys: {
          prefixes: ['hok_live_'],
          validateUrl: service.url,
          hashSecret: 'route-identity-hash-secret-0123456789abcdef',
        },
      },
      routes: [
        {
          ...base,
          name: 'claims',
          prefix: '/claims',
          identityHeaders: {
            'X-User-Email': 'email',
            'X-User-Groups': 'groups',
            'X-User-Org': 'org.name',
          },
        },
        {
          ...base,
          name: 'open',
          prefix: '/open',
          auth: 'optional',
          identityHeaders: { 'X-User-Email': 'email' },
        },
        {
          ...base,
          name: 'sealed',
          prefix: '/sealed',
          forwardCredentials: false,
          identityAssertion: true,
        },
        { ...base, name: 'required', prefix: '/required', tenantRequired: true },
        { ...base, name: 'single', prefix: '/single', tenantFromToken: true, tenantRequired: true },
      ],
    });
  });
  afterAll(async () => {
    await proxy?.close();
    await upstream?.close();
    await service?.close();
  });

  async function get(
    path: string,
    headers: string[],
  ): Promise<{ res: RawResponse; seen?: SeenRequest }> {
    const before = upstream.seen.length;
    const res = await rawRequest(proxy.url, {
      path,
      headers: ['Host', 'authgate.test', ...headers],
    });
    return { res, seen: upstream.seen[before] };
  }
  const header = (seen: SeenRequest, name: string) =>
    pairs(seen.rawHeaders)
      .filter(([n]) => n.toLowerCase() === name.toLowerCase())
      .map(([, v]) => v);

  test('claims become identity headers; lists are comma-joined, nested claims by path, objects left out', async () => {
    const { res, seen } = await get('/claims/x', [
      'Authorization',
      `Bearer ${token({ email: 'alice@example.com', groups: ['ml', 'ops'], org: { name: 'acme' } })}`,
    ]);
    expect(res.status).toBe(200);
    expect(header(seen!, 'X-User-Email')).toEqual(['alice@example.com']);
    expect(header(seen!, 'X-User-Groups')).toEqual(['ml,ops']);
    expect(header(seen!, 'X-User-Org')).toEqual(['acme']);
    const nested = await get('/claims/x', [
      'Authorization',
      `Bearer ${token({ email: { a: 1 } })}`,
    ]);
    expect(header(nested.seen!, 'X-User-Email')).toEqual([]);
  });

  test.each<[string, string[], number]>([
    ['a client value, with a credential', ['X-User-Email', 'ceo@example.com'], 403],
    ['a client value, in another case', ['x-user-email', 'ceo@example.com'], 403],
    ['its underscore spelling', ['X_User_Email', 'ceo@example.com'], 400],
  ])('%s is refused', async (_w, extra, status) => {
    const { res, seen } = await get('/claims/x', [
      'Authorization',
      `Bearer ${token({ email: 'alice@example.com' })}`,
      ...extra,
    ]);
    expect(res.status).toBe(status);
    expect(seen).toBeUndefined();
  });

  test('anonymous: a client value is refused too (nobody vouches for it)', async () => {
    const anonymous = await get('/open/x', []);
    expect(anonymous.res.status).toBe(200);
    const { res, seen } = await get('/open/x', ['X-User-Email', 'ceo@example.com']);
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body.toString())).toMatchObject({ error_code: 'IDENTITY_MISMATCH' });
    expect(seen).toBeUndefined();
  });

  test("forwardCredentials: false keeps the caller's token back; the upstream gets the identity and the assertion", async () => {
    const jwt = token({});
    const { res, seen } = await get('/sealed/x', ['Authorization', `Bearer ${jwt}`]);
    expect(res.status).toBe(200);
    expect(header(seen!, 'authorization')).toEqual([]);
    expect(JSON.stringify(seen!.rawHeaders)).not.toContain(jwt);
    expect(header(seen!, 'X-User-ID')).toEqual(['alice']);
    expect(header(seen!, 'X-Authgate-Assertion')).toHaveLength(1);
  });

  test('forwardCredentials: false keeps an API key back too, in its header or as a bearer', async () => {
    for (const sent of [
      ['X-API-Key', API_KEY],
      ['Authorization', `Bearer ${API_KEY}`],
    ]) {
      const { res, seen } = await get('/sealed/x', sent);
      expect(res.status).toBe(200);
      expect(JSON.stringify(seen!.rawHeaders)).not.toContain(API_KEY);
      expect(header(seen!, 'X-User-ID')).toEqual(['ci-bot']);
    }
  });

  test('tenantRequired: no tenant is 400 TENANT_REQUIRED, nothing upstream; a named tenant passes', async () => {
    const t = token({ tenant_ids: ['acme', 'beta'] });
    const missing = await get('/required/x', ['Authorization', `Bearer ${t}`]);
    expect(missing.res.status).toBe(400);
    expect(JSON.parse(missing.res.body.toString())).toMatchObject({
      error_code: 'TENANT_REQUIRED',
    });
    expect(missing.seen).toBeUndefined();
    const named = await get('/required/x', ['Authorization', `Bearer ${t}`, 'X-Tenant-ID', 'beta']);
    expect(named.res.status).toBe(200);
  });

  test('tenantFromToken: a token limited to one tenant acts for it; with two, the request must say which', async () => {
    const one = await get('/single/x', [
      'Authorization',
      `Bearer ${token({ tenant_ids: ['acme'] })}`,
    ]);
    expect(one.res.status).toBe(200);
    expect(header(one.seen!, 'X-Tenant-ID')).toEqual(['acme']);
    const two = await get('/single/x', [
      'Authorization',
      `Bearer ${token({ tenant_ids: ['acme', 'beta'] })}`,
    ]);
    expect(two.res.status).toBe(400);
    const other = await get('/single/x', [
      'Authorization',
      `Bearer ${token({ tenant_ids: ['acme'] })}`,
      'X-Tenant-ID',
      'beta',
    ]);
    expect(other.res.status).toBe(403);
  });
});
