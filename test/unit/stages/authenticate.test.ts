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
