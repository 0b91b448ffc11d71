/**
 * docs/design.md#command-line: `authgate api-key create | list | revoke KEY_ID` against the auth
 * service's admin API. Before, `api-key revoke` said "revoked" when it only cleared caches. Now
 * revoke KEY_ID deletes the key at the service and drops its cached verdicts from every running
 * instance, and says which of the two happened. Real processes for the CLI, real Redis, two
 * running authgate instances; no secret in any output.
 */
import request from 'supertest';
import { startAuthService, type AuthService } from '../../helpers/auth-service';
import { runCli, writeConfig } from '../../helpers/process';
import { REDIS_URL, uniquePrefix } from '../../helpers/redis';
import {
  freePort,
  route,
  startProxy,
  startUpstream,
  waitForRedis,
  type TestProxy,
  type TestUpstream,
} from '../../helpers/servers';

jest.setTimeout(60_000);

describe('authgate api-key against the admin API', () => {
  let service: AuthService;
  let upstream: TestUpstream;
  let a: TestProxy;
  let b: TestProxy;
  let file: string;
  let env: NodeJS.ProcessEnv;
  const HASH_SECRET = 'admin-cli-hash-secret-0123456789abcdef';

  beforeAll(async () => {
    service = await startAuthService();
    upstream = await startUpstream();
    const config = {
      redis: { url: REDIS_URL, keyPrefix: uniquePrefix() },
      auth: {
        apiKeys: {
          prefixes: ['hok_live_'],
          validateUrl: service.url,
          adminUrl: service.adminUrl,
          hashSecret: HASH_SECRET,
        },
      },
      routes: [route(upstream.url, { auth: 'required', scopes: ['reports:read'] })],
    };
    a = await startProxy(config);
    b = await startProxy(config);
    await Promise.all([a, b].map(waitForRedis));
    file = writeConfig(config);
    env = { AUTHGATE_ADMIN_TOKEN: service.adminToken };
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await upstream.close();
    await service.close();
  });

  const get = (p: TestProxy, key: string) => request(p.url).get('/x').set('X-API-Key', key);

  it('create → the key works on every instance → list never shows it → revoke KEY_ID drops it everywhere', async () => {
    const created = await runCli(
      [
        'api-key',
        'create',
        '--config',
        file,
        '--name',
        'reports',
        '--scopes',
        'reports:read',
        '--tenant',
        't1',
      ],
      env,
    );
    expect(created.code).toBe(0);
    const [first, key] = created.stdout.trim().split('\n');
    expect(first).toBe('created key_1 (reports); the key is shown once, store it now:');
    expect(key).toMatch(/^hok_live_created1/);

    expect((await get(a, key!)).status).toBe(200);
    expect((await get(b, key!)).status).toBe(200); // from the shared Redis entry

    const listed = await runCli(['api-key', 'list', '--config', file], env);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(
      /^KEY_ID\tNAME\tSCOPES\tTENANTS\tCREATED\tREVOKED\nkey_1\treports\treports:read\tt1\t\S+\tno\n$/,
    );
    expect(listed.stdout).not.toContain(key);

    const revoked = await runCli(['api-key', 'revoke', 'key_1', '--config', file], env);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toBe(
      'deleted key_1 at the auth service\ndropped from the caches: 1 Redis entry, 2 running instance(s) notified\n',
    );
    // at once on both instances, although their verdicts were cached for cacheTtlSec
    for (let i = 0; i < 50 && (await get(b, key!)).status !== 401; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect((await get(a, key!)).status).toBe(401);
    expect((await get(b, key!)).status).toBe(401);
    for (const out of [created.stderr, listed.stderr, revoked.stdout, revoked.stderr])
      expect(out).not.toContain(service.adminToken);
  });

  it('revoke of a key the service does not know says so, and still clears the caches', async () => {
    const r = await runCli(['api-key', 'revoke', 'key_404', '--config', file], env);
    expect(r.stdout).toMatch(
      /^key_404 was not found at the auth service\ndropped from the caches: 0 Redis entries/,
    );
    expect(r.code).toBe(0);
  });

  it.each([
    ['no admin token', {}, /AUTHGATE_ADMIN_TOKEN is not set/],
    [
      'a wrong admin token',
      { AUTHGATE_ADMIN_TOKEN: 'wrong-token' },
      /the admin API refused the admin token \(HTTP 401\)/,
    ],
  ])('%s: exit 1 with a clear message', async (_name, e, message) => {
    const r = await runCli(['api-key', 'list', '--config', file], e);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toContain('wrong-token');
  });

  it('without adminUrl: exit 1 naming the key to set; the admin API down: no answer', async () => {
    const noAdmin = writeConfig({
      auth: { apiKeys: { prefixes: ['hok_'], validateUrl: service.url } },
      routes: [],
    });
    const r = await runCli(['api-key', 'list', '--config', noAdmin], env);
    expect([r.code, r.stderr]).toEqual([1, expect.stringMatching(/need auth\.apiKeys\.adminUrl/)]);
    const down = writeConfig({
      auth: {
        apiKeys: {
          prefixes: ['hok_'],
          validateUrl: service.url,
          adminUrl: `http://127.0.0.1:${await freePort()}/keys`,
        },
      },
      routes: [],
    });
    const d = await runCli(['api-key', 'list', '--config', down], env);
    expect([d.code, d.stderr]).toEqual([
      1,
      expect.stringMatching(/no answer from the admin API \(ECONNREFUSED\)/),
    ]);
  });

  it('create without --name or --scopes is a usage error (exit 2)', async () => {
    const r = await runCli(['api-key', 'create', '--config', file, '--name', 'x'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/usage:/);
  });
});
