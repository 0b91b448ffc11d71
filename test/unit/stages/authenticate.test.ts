/**
 * The authenticate → authorise stage alone: the first responsible authenticator
 * decides, required/optional routes, scopes and tenants, the failed-auth guard, one audit line
 * per decision. Authenticators here are plain objects implementing the interface.
 */
import { NOT_RESPONSIBLE, type Authenticator } from '../../../src/auth/authenticator';
import { FailedAuthGuard } from '../../../src/auth/failed-auth-guard';
import { AuthgateError, isAuthgateError } from '../../../src/errors';
import { NetworkList } from '../../../src/headers/forwarded';
import { createLogger } from '../../../src/logging/logger';
import { Metrics } from '../../../src/metrics';
import type { Principal } from '../../../src/request-scope';
import { RouteTable } from '../../../src/routes/route-table';
import { createAuthStage } from '../../../src/stages/authenticate';
import { createHygieneStage } from '../../../src/stages/hygiene';
import { LogCapture } from '../../helpers/servers';
import { fakeRequest, scopeOf, testConfig } from './fixtures';

const alice: Principal = {
  userId: 'alice',
  tenantIds: ['t1'],
  scopes: ['read'],
  authMethod: 'jwt',
};
/** Responsible for bearer tokens: "good" → alice, anything else → 401. */
const bearer: Authenticator = {
  method: 'jwt',
  authenticate: (_req, scope) => {
    const t = scope.credentials?.bearer;
    if (t === undefined) return NOT_RESPONSIBLE;
    if (t === 'good') return alice;
    throw new AuthgateError('TOKEN_INVALID', {
      reason: 'bad_signature',
      bearerError: 'invalid_token',
    });
  },
};
/** Only ever responsible for API keys, which no case here sends: asked, it must pass. */
const apiKeysOnly: Authenticator = {
  method: 'api_key',
  authenticate: (_req, scope) => {
    if (scope.credentials?.bearer !== undefined)
      throw new Error('asked after a responsible authenticator decided');
    return NOT_RESPONSIBLE;
  },
};

const config = testConfig({
  routes: [
    { name: 'req', prefix: '/req', upstream: 'http://u', auth: 'required', scopes: ['read'] },
    { name: 'write', prefix: '/write', upstream: 'http://u', auth: 'required', scopes: ['write'] },
    { name: 'opt', prefix: '/opt', upstream: 'http://u', auth: 'optional', scopes: { GET: [] } },
  ],
});
const routes = new RouteTable(config.routes);

function setup(maxFailures = 0) {
  const logs = new LogCapture();
  const logger = createLogger({ level: 'info', stream: logs });
  const hygiene = createHygieneStage(config, new NetworkList([]), logger);
  const stage = createAuthStage({
    authenticators: [bearer, apiKeysOnly],
    failedAuthGuard: new FailedAuthGuard({ maxFailures, windowSec: 60 }, undefined),
    logger,
  });
  const run = async (path: string, raw: string[] = [], method = 'GET') => {
    const req = fakeRequest(path, raw, { method });
    const scope = scopeOf(req);
    hygiene(req, scope);
    try {
      await stage(req, scope, routes.match(path));
      return { status: 200, scope };
    } catch (err) {
      return {
        status: isAuthgateError(err) ? err.status : 500,
        code: isAuthgateError(err) ? err.code : String(err),
        scope,
      };
    }
  };
  return { run, logs };
}

describe('authenticate → authorise stage', () => {
  // headers as "Name: value" separated by "|"
  it.each([
    ['required, good token', '/req', 'Authorization: Bearer good', 200, undefined, 'GET'],
    ['required, no credential', '/req', '', 401, 'AUTH_REQUIRED', 'GET'],
    ['required, bad token', '/req', 'Authorization: Bearer bad', 401, 'TOKEN_INVALID', 'GET'],
    ['missing scope', '/write', 'Authorization: Bearer good', 403, 'INSUFFICIENT_SCOPE', 'GET'],
    [
      'another tenant',
      '/req',
      'Authorization: Bearer good|X-Tenant-ID: t2',
      403,
      'TENANT_FORBIDDEN',
      'GET',
    ],
    [
      'a spoofed X-User-ID',
      '/req',
      'Authorization: Bearer good|X-User-ID: bob',
      403,
      'IDENTITY_MISMATCH',
      'GET',
    ],
    ['optional, anonymous GET', '/opt', '', 200, undefined, 'GET'],
    ['optional, a method the map does not grant', '/opt', '', 403, 'INSUFFICIENT_SCOPE', 'POST'],
    [
      'optional, a presented bad token still fails',
      '/opt',
      'Authorization: Bearer bad',
      401,
      'TOKEN_INVALID',
      'GET',
    ],
  ])('%s', async (_name, path, headers, status, code, method) => {
    const raw = headers === '' ? [] : headers.split('|').flatMap((h) => h.split(': '));
    const { run } = setup();
    const r = await run(path, raw, method);
    expect([r.status, r.code]).toEqual([status, code]);
  });

  it('sets the principal and the X-User-ID the upstream gets', async () => {
    const { run } = setup();
    const { scope } = await run('/req', ['Authorization', 'Bearer good']);
    expect(scope.principal).toBe(alice);
    expect(scope.addHeaders).toEqual(['X-User-ID', 'alice']);
  });

  it('one audit line per decision, with its reason, never the token', async () => {
    const { run, logs } = setup();
    await run('/req', ['Authorization', 'Bearer good']);
    await run('/write', ['Authorization', 'Bearer good']);
    const audit = logs.entries().filter((l) => l.type === 'audit');
    expect(audit.map((l) => [l.route, l.decision, l.reason])).toEqual([
      ['req', 'allow', 'ok'],
      ['write', 'deny', 'missing_scope'],
    ]);
    expect(logs.text()).not.toContain('Bearer good');
  });

  it('the failed-auth guard refuses before any authenticator once an address is over', async () => {
    const { run } = setup(2);
    for (let i = 0; i < 2; i++)
      expect((await run('/req', ['Authorization', 'Bearer bad'])).status).toBe(401);
    const refused = await run('/req', ['Authorization', 'Bearer good']);
    expect([refused.status, refused.code]).toEqual([429, 'RATE_LIMITED']);
  });
});

describe('authenticate → authorise stage: every decision, exactly', () => {
  /** alice holds t1 and t2; "down" makes the authenticator fail as a dependency would (503). */
  const principal: Principal = {
    userId: 'alice',
    tenantIds: ['t1', 't2'],
    scopes: ['read'],
    authMethod: 'jwt',
  };
  const tokens: Authenticator = {
    method: 'jwt',
    authenticate: (_req, scope) => {
      const t = scope.credentials?.bearer;
      if (t === undefined) return NOT_RESPONSIBLE;
      if (t === 'good') return principal;
      if (t === 'down')
        throw new AuthgateError('AUTH_SERVICE_UNAVAILABLE', { reason: 'auth_service_down' });
      throw new AuthgateError('TOKEN_INVALID', { reason: 'bad_signature' });
    },
  };
  const cfg = testConfig({
    server: { internalNetworks: ['192.168.0.0/16'] },
    routes: [
      { name: 'req', prefix: '/req', upstream: 'http://u', auth: 'required', scopes: ['read'] },
      { name: 'opt', prefix: '/opt', upstream: 'http://u', auth: 'optional' },
      { name: 'none', prefix: '/none', upstream: 'http://u', auth: 'none' },
      { name: 'ws', prefix: '/ws', upstream: 'http://u', tenantHeader: 'X-Workspace' },
      {
        name: 'reg',
        prefix: '/v2',
        upstream: 'http://u',
        stripPrefix: false,
        tenantPathSegment: 1,
      },
      {
        name: 'hop',
        prefix: '/hop',
        upstream: 'http://u',
        upstreamAuth: { mode: 'when-absent', providers: [{ type: 'env' }] },
      },
    ],
  });
  const table = new RouteTable(cfg.routes);
  const logs = new LogCapture();
  const logger = createLogger({ level: 'info', stream: logs });
  const hygiene = createHygieneStage(cfg, new NetworkList([]), logger);
  const stage = createAuthStage({
    authenticators: [tokens],
    failedAuthGuard: new FailedAuthGuard({ maxFailures: 0, windowSec: 60 }, undefined),
    logger,
  });

  interface Seen {
    outcome: string;
    addHeaders?: string[];
    tenant?: string | undefined;
    audit: Record<string, unknown>;
  }
  async function decide(url: string, raw: string[], peer?: string, method = 'GET'): Promise<Seen> {
    logs.lines.length = 0;
    const req = fakeRequest(url, raw, { method, peer });
    const scope = scopeOf(req);
    hygiene(req, scope);
    let outcome = 'allow';
    try {
      await stage(req, scope, table.match(scope.path!));
    } catch (err) {
      outcome = isAuthgateError(err) ? `${err.status} ${err.code} ${err.reason}` : String(err);
    }
    const audits = logs.entries().filter((l) => l.type === 'audit');
    expect(audits).toHaveLength(1);
    const { decision, reason, error_code, auth_method, user_id, tenant_id } = audits[0]!;
    return {
      outcome,
      ...(outcome === 'allow' ? { addHeaders: scope.addHeaders, tenant: scope.tenantId } : {}),
      audit: { decision, reason, error_code, auth_method, user_id, tenant_id },
    };
  }
  const GOOD = ['Authorization', 'Bearer good'];
  const allowAlice = (addHeaders: string[], tenant: string | undefined) => ({
    outcome: 'allow',
    addHeaders,
    tenant,
    audit: {
      decision: 'allow',
      reason: 'ok',
      error_code: undefined,
      auth_method: 'jwt',
      user_id: 'alice',
      tenant_id: tenant,
    },
  });
  const deny = (
    status: number,
    code: string,
    reason: string,
    authMethod: string,
    decision = 'deny',
  ) => ({
    outcome: `${status} ${code} ${reason}`,
    audit: {
      decision,
      reason,
      error_code: code,
      auth_method: authMethod,
      user_id:
        authMethod === 'jwt' &&
        code !== 'TOKEN_INVALID' &&
        code !== 'AUTH_SERVICE_UNAVAILABLE' &&
        code !== 'BAD_REQUEST'
          ? 'alice'
          : undefined,
      tenant_id: undefined,
    },
  });

  it.each<[string, string, string[], string | undefined, unknown]>([
    [
      'a good token: X-User-ID added, the first tenant',
      '/req/x',
      GOOD,
      undefined,
      allowAlice(['X-User-ID', 'alice'], 't1'),
    ],
    [
      'the tenant header names the tenant',
      '/req/x',
      [...GOOD, 'X-Tenant-ID', 't2'],
      undefined,
      allowAlice(['X-User-ID', 'alice'], 't2'),
    ],
    [
      'a route’s own tenant header',
      '/ws/x',
      [...GOOD, 'X-Workspace', 't2'],
      undefined,
      allowAlice(['X-User-ID', 'alice'], 't2'),
    ],
    [
      'a route’s own tenant header, not granted',
      '/ws/x',
      [...GOOD, 'X-Workspace', 't9'],
      undefined,
      deny(403, 'TENANT_FORBIDDEN', 'tenant_not_granted', 'jwt'),
    ],
    [
      'the path’s tenant is forwarded in the tenant header',
      '/v2/t2/app/manifests/1',
      GOOD,
      undefined,
      allowAlice(['X-User-ID', 'alice', 'X-Tenant-ID', 't2'], 't2'),
    ],
    [
      'the path’s tenant and the header agree',
      '/v2/t2/app/manifests/1',
      [...GOOD, 'X-Tenant-ID', 't2'],
      undefined,
      allowAlice(['X-User-ID', 'alice'], 't2'),
    ],
    [
      'the path’s tenant not granted',
      '/v2/t9/app/manifests/1',
      GOOD,
      undefined,
      deny(403, 'TENANT_FORBIDDEN', 'path_tenant_not_granted', 'jwt'),
    ],
    [
      'the path’s tenant and the header disagree',
      '/v2/t2/app/manifests/1',
      [...GOOD, 'X-Tenant-ID', 't1'],
      undefined,
      deny(403, 'TENANT_FORBIDDEN', 'tenant_path_mismatch', 'jwt'),
    ],
    [
      'a mount from another tenant’s repository',
      '/v2/t1/app/blobs/uploads/?mount=sha256:1&from=t9/app',
      GOOD,
      undefined,
      deny(403, 'TENANT_FORBIDDEN', 'query_tenant_not_granted', 'jwt'),
    ],
    [
      'a mount within the tenant',
      '/v2/t1/app/blobs/uploads/?mount=sha256:1&from=t2/app',
      GOOD,
      undefined,
      allowAlice(['X-User-ID', 'alice', 'X-Tenant-ID', 't1'], 't1'),
    ],
    [
      'a tenant path is never served anonymously',
      '/v2/t1/app/manifests/1',
      [],
      undefined,
      deny(401, 'AUTH_REQUIRED', 'no_credentials', 'none'),
    ],
    [
      'a malformed Authorization is refused, not ignored',
      '/opt/x',
      ['Authorization', 'Bearer a b'],
      undefined,
      deny(401, 'TOKEN_INVALID', 'malformed_authorization', 'none'),
    ],
    [
      'a bad token',
      '/req/x',
      ['Authorization', 'Bearer bad'],
      undefined,
      deny(401, 'TOKEN_INVALID', 'bad_signature', 'jwt'),
    ],
    [
      'a dependency down is an error, not a deny',
      '/req/x',
      ['Authorization', 'Bearer down'],
      undefined,
      deny(503, 'AUTH_SERVICE_UNAVAILABLE', 'auth_service_down', 'jwt', 'error'),
    ],
    [
      'no credential on a required route',
      '/req/x',
      [],
      undefined,
      deny(401, 'AUTH_REQUIRED', 'no_credentials', 'none'),
    ],
    [
      'anonymous on an optional route',
      '/opt/x',
      [],
      undefined,
      {
        outcome: 'allow',
        addHeaders: [],
        tenant: undefined,
        audit: {
          decision: 'allow',
          reason: 'anonymous',
          error_code: undefined,
          auth_method: 'none',
          user_id: undefined,
          tenant_id: undefined,
        },
      },
    ],
    [
      'anonymous with an X-User-ID',
      '/opt/x',
      ['X-User-ID', 'root'],
      undefined,
      deny(403, 'IDENTITY_MISMATCH', 'unverified_user_id', 'none'),
    ],
    [
      'anonymous with a tenant header',
      '/opt/x',
      ['X-Tenant-ID', 't1'],
      undefined,
      deny(403, 'TENANT_FORBIDDEN', 'unverified_tenant', 'none'),
    ],
    [
      'anonymous with the route’s tenant header',
      '/ws/x',
      [],
      undefined,
      deny(401, 'AUTH_REQUIRED', 'no_credentials', 'none'),
    ],
    [
      'an internal hop may pass identity through anonymously',
      '/opt/x',
      ['X-User-ID', 'svc', 'X-Tenant-ID', 't1'],
      '192.168.1.1',
      {
        outcome: 'allow',
        addHeaders: [],
        tenant: undefined,
        audit: {
          decision: 'allow',
          reason: 'anonymous',
          error_code: undefined,
          auth_method: 'none',
          user_id: undefined,
          tenant_id: undefined,
        },
      },
    ],
    [
      'when-absent: an internal caller without a credential passes',
      '/hop/x',
      [],
      '192.168.1.1',
      {
        outcome: 'allow',
        addHeaders: [],
        tenant: undefined,
        audit: {
          decision: 'allow',
          reason: 'internal_without_credential',
          error_code: undefined,
          auth_method: 'none',
          user_id: undefined,
          tenant_id: undefined,
        },
      },
    ],
    [
      'when-absent: an outside caller without a credential is refused',
      '/hop/x',
      [],
      undefined,
      deny(401, 'AUTH_REQUIRED', 'no_credentials', 'none'),
    ],
    [
      'when-absent: an internal caller with a bad token is refused, not replaced',
      '/hop/x',
      ['Authorization', 'Bearer bad'],
      '192.168.1.1',
      deny(401, 'TOKEN_INVALID', 'bad_signature', 'jwt'),
    ],
  ])('%s', async (_name, url, raw, peer, expected) => {
    expect(await decide(url, raw, peer)).toEqual(expected);
  });

  it('auth: none routes decide nothing and log no audit line', async () => {
    logs.lines.length = 0;
    const req = fakeRequest('/none/x', ['Authorization', 'Bearer bad']);
    const scope = scopeOf(req);
    hygiene(req, scope);
    await stage(req, scope, table.match('/none/x'));
    expect(scope.principal).toBeUndefined();
    expect(
      logs
        .entries()
        .filter((l) => l.type === 'audit')
        .map((l) => l.reason),
    ).toEqual(['anonymous']);
  });
});

describe('authenticate → authorise stage: what counts against an address, and how a caller is named', () => {
  const keys: Authenticator = {
    method: 'api_key',
    authenticate: (_req, scope) => {
      const k = scope.credentials?.apiKey;
      if (k === undefined) return NOT_RESPONSIBLE;
      if (k === 'hok_good') return { ...alice, authMethod: 'api_key' };
      throw new AuthgateError('API_KEY_INVALID', { reason: 'unknown_key' });
    },
  };
  function guarded() {
    const logs = new LogCapture();
    const logger = createLogger({ level: 'info', stream: logs });
    const metrics = new Metrics('test');
    const hygiene = createHygieneStage(config, new NetworkList([]), logger);
    const stage = createAuthStage({
      authenticators: [bearer, keys],
      failedAuthGuard: new FailedAuthGuard({ maxFailures: 1, windowSec: 60 }, undefined),
      logger,
      metrics,
    });
    const run = async (path: string, raw: string[], preflight = false) => {
      const req = fakeRequest(path, raw, { method: preflight ? 'OPTIONS' : 'GET' });
      const scope = scopeOf(req);
      hygiene(req, scope);
      scope.preflight = preflight;
      try {
        await stage(req, scope, routes.match(path));
        return 'allow';
      } catch (err) {
        return isAuthgateError(err) ? `${err.status} ${err.reason}` : String(err);
      }
    };
    const failedAuthRefusals = async () =>
      (await metrics.rateLimited.get()).values
        .filter((v) => v.labels.by === 'failed_auth')
        .map((v) => [v.labels.route, v.value]);
    return { run, logs, failedAuthRefusals };
  }
  const GOOD = ['Authorization', 'Bearer good'];

  it('a 403 for a presented credential does not count as a failed authentication', async () => {
    const { run } = guarded();
    expect(await run('/write', GOOD)).toBe('403 missing_scope');
    expect(await run('/req', GOOD)).toBe('allow');
  });

  it('a 401 with nothing presented does not count either', async () => {
    const { run } = guarded();
    expect(await run('/req', [])).toBe('401 no_credentials');
    expect(await run('/req', GOOD)).toBe('allow');
  });

  it('a failed credential counts: the next presented one is refused and counted as failed_auth', async () => {
    const { run, failedAuthRefusals } = guarded();
    expect(await run('/req', ['Authorization', 'Bearer bad'])).toBe('401 bad_signature');
    expect(await failedAuthRefusals()).toEqual([]);
    expect(await run('/req', GOOD)).toBe('429 failed_auth_guard');
    expect(await failedAuthRefusals()).toEqual([['req', 1]]);
    // anonymous requests are not checked by the guard
    expect(await run('/opt', [])).toBe('allow');
  });

  it('the audit line names the credential that failed', async () => {
    const { run, logs } = guarded();
    expect(await run('/req', ['X-API-Key', 'hok_bad'])).toBe('401 unknown_key');
    expect(
      logs
        .entries()
        .filter((l) => l.type === 'audit')
        .map((l) => [l.auth_method, l.reason]),
    ).toEqual([['api_key', 'unknown_key']]);
  });

  it('a CORS preflight is not authenticated, even on a required route', async () => {
    const { run, logs } = guarded();
    expect(await run('/req', [], true)).toBe('allow');
    expect(await run('/write', ['Authorization', 'Bearer bad'], true)).toBe('allow');
    expect(
      logs
        .entries()
        .filter((l) => l.type === 'audit')
        .map((l) => l.reason),
    ).toEqual(['anonymous', 'anonymous']);
  });
});

describe('a blocked address and a credential that already verified', () => {
  /** "known" verified before (cached); "fresh" would verify but was never seen; "bad" fails. */
  const cachedOnly: Authenticator = {
    method: 'jwt',
    authenticate: (_req, scope) => {
      const t = scope.credentials?.bearer;
      if (t === undefined) return NOT_RESPONSIBLE;
      if (t === 'known' || t === 'fresh') return alice;
      throw new AuthgateError('TOKEN_INVALID', { reason: 'bad_signature' });
    },
    verified: (scope) => (scope.credentials?.bearer === 'known' ? alice : undefined),
  };
  it('only the verified credential passes; the block is logged once', async () => {
    const logs = new LogCapture();
    const logger = createLogger({ level: 'info', stream: logs });
    const hygiene = createHygieneStage(config, new NetworkList([]), logger);
    const stage = createAuthStage({
      authenticators: [cachedOnly],
      failedAuthGuard: new FailedAuthGuard({ maxFailures: 2, windowSec: 60 }, undefined),
      logger,
    });
    const run = async (token: string) => {
      const req = fakeRequest('/req', ['Authorization', `Bearer ${token}`]);
      const scope = scopeOf(req);
      hygiene(req, scope);
      try {
        await stage(req, scope, routes.match('/req'));
        return `allow ${scope.principal?.userId}`;
      } catch (err) {
        return isAuthgateError(err) ? `${err.status} ${err.reason}` : String(err);
      }
    };
    const outcomes = [];
    for (const t of ['bad', 'bad', 'bad', 'known', 'fresh', 'bad']) outcomes.push(await run(t));
    expect(outcomes).toEqual([
      '401 bad_signature',
      '401 bad_signature',
      '429 failed_auth_guard',
      'allow alice',
      '429 failed_auth_guard',
      '429 failed_auth_guard',
    ]);
    expect(
      logs.entries().filter((l) => l.message === 'address blocked after failed authentications'),
    ).toEqual([expect.objectContaining({ level: 'warn', route: 'req' })]);
  });
});
