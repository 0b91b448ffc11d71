/**
 * `serve` and the embedded chain make the same decisions: one generated request — path (case,
 * dot-segments, encodings), identity and tenant headers (and their underscore spellings),
 * credentials of every kind — goes to a real `authgate` proxy and to `gate.authenticate()` in
 * an Express app, on an optional and on a required route; status, error code and the identity
 * the handler behind receives must agree. The one designed difference: the embedded chain
 * refuses dot-segments (the handler behind could read the path as written), where `serve`
 * forwards the resolved path.
 */
import express from 'express';
import fc from 'fast-check';
import { createAuthgate, type Authgate } from '../../../src/index';
import { createLogger } from '../../../src/logging/logger';
import { hasDotSegments } from '../../../src/paths/normalize-path';
import { startAuthService, type AuthService } from '../../helpers/auth-service';
import { sign } from '../../helpers/jwks';
import {
  LogCapture,
  listen,
  pairs,
  rawRequest,
  startProxy,
  startUpstream,
  type ListeningApp,
  type RawResponse,
  type TestProxy,
  type TestUpstream,
} from '../../helpers/servers';

const SECRET = 'serve-and-embedded-agree-secret-0123456789';
const API_KEY = 'hok_live_agree_valid_key_0123456789';

interface Decision {
  status: number;
  code: string | null;
  user: string | null;
}

describe('serve and the embedded chain decide alike', () => {
  let upstream: TestUpstream;
  let service: AuthService;
  let proxy: TestProxy;
  let gate: Authgate;
  let app: ListeningApp;
  let embedded: string;

  const config = () => ({
    auth: {
      failedAuthGuard: { maxFailures: 0 },
      jwt: { issuers: [{ issuer: 'idp', algorithms: ['HS256'], secret: SECRET }] },
      apiKeys: {
        prefixes: ['hok_live_'],
        validateUrl: `${service.url}/api/v1/keys/validate`,
        hashSecret: 'agree-hash-secret-0123456789abcdef',
        probeIntervalSec: 0,
      },
    },
    routes: [
      { name: 'opt', prefix: '/opt', upstream: upstream.url, auth: 'optional', scopes: [] },
      {
        name: 'req',
        prefix: '/req',
        upstream: upstream.url,
        auth: 'required',
        scopes: ['reports:read'],
      },
    ],
  });

  beforeAll(async () => {
    upstream = await startUpstream();
    service = await startAuthService();
    service.keys.set(API_KEY, { user_id: 'robot', tenant_ids: ['t1'], scopes: ['reports:read'] });
    proxy = await startProxy(config());
    gate = await createAuthgate(config(), {
      logger: createLogger({ level: 'error', stream: new LogCapture() }),
    });
    const ex = express();
    const echo: express.RequestHandler = (req, res) => {
      res.json({ user: req.headers['x-user-id'] ?? null });
    };
    ex.use('/opt', gate.authenticate({ optional: true, name: 'opt' }), echo);
    ex.use('/req', gate.authenticate({ scopes: ['reports:read'], name: 'req' }), echo);
    app = await listen(ex);
    embedded = app.url;
  });
  afterAll(async () => {
    await app.close();
    await gate.close();
    await proxy.close();
    await service.close();
    await upstream.close();
  });

  const now = Math.floor(Date.now() / 1000);
  const credentials: Record<string, string[]> = {
    none: [],
    alice: [
      'Authorization',
      `Bearer ${sign(SECRET, { iss: 'idp', sub: 'alice', claims: { scope: 'reports:read', tenant_ids: ['t1'] } })}`,
    ],
    noScope: [
      'Authorization',
      `Bearer ${sign(SECRET, { iss: 'idp', sub: 'bob', claims: { scope: 'other', tenant_ids: ['t1'] } })}`,
    ],
    expired: [
      'Authorization',
      `Bearer ${sign(SECRET, { iss: 'idp', sub: 'carol', iat: now - 7200, expiresInSec: -3600 })}`,
    ],
    forged: [
      'Authorization',
      `Bearer ${sign('another-secret-0123456789abcdefghijkl', { iss: 'idp', sub: 'admin' })}`,
    ],
    malformed: ['Authorization', 'Bearer a b'],
    wrongScheme: ['Authorization', `Basic ${sign(SECRET, { iss: 'idp' })}`],
    apiKey: ['X-API-Key', API_KEY],
    apiKeyBearer: ['Authorization', `Bearer ${API_KEY}`],
    badKey: ['X-API-Key', 'hok_live_not_a_key'],
    twoKinds: ['X-API-Key', API_KEY, 'Authorization', `Bearer ${sign(SECRET, { iss: 'idp' })}`],
  };
  const identity = fc.constantFrom<string[]>(
    [],
    ['X-User-ID', 'alice'],
    ['X-User-ID', 'admin'],
    ['x-user-id', 'robot'],
    ['X_User_ID', 'alice'],
    ['X-User-ID', 'a,b'],
    ['X-User-ID', 'alice', 'X-User-ID', 'alice'],
  );
  const tenant = fc.constantFrom<string[]>(
    [],
    ['X-Tenant-ID', 't1'],
    ['X-Tenant-ID', 'bigcorp'],
    ['X_Tenant_ID', 't1'],
    ['x-tenant-id', 't1, t2'],
  );
  const segment = fc.constantFrom(
    'a',
    'B',
    '..',
    '.',
    '%2e%2e',
    '%2E',
    '%2F',
    '%41b',
    'x%zz',
    'c;d',
    '~u',
  );
  const path = fc
    .tuple(fc.constantFrom('/opt', '/req', '/OPT', '/Req'), fc.array(segment, { maxLength: 3 }))
    .map(([prefix, rest]) => [prefix, ...rest].join('/'));

  async function decide(
    base: string,
    p: string,
    headers: string[],
    method: string,
  ): Promise<Decision> {
    const res: RawResponse = await rawRequest(base, {
      method,
      path: p,
      headers: ['Host', 'agree.example', ...headers],
    });
    const text = res.body.toString();
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      /* not JSON */
    }
    if (res.status === 200 && base === proxy.url) {
      // The identity the upstream received.
      const seen = pairs((body as { rawHeaders?: string[] }).rawHeaders ?? []);
      const user = seen.find(([n]) => n.toLowerCase() === 'x-user-id')?.[1] ?? null;
      return { status: 200, code: null, user };
    }
    return {
      status: res.status,
      code: typeof body.error_code === 'string' ? body.error_code : null,
      user: res.status === 200 ? ((body.user as string | null) ?? null) : null,
    };
  }

  it('property: the same status, error code and forwarded identity for every generated request', async () => {
    const outcomes = new Set<string>();
    await fc.assert(
      fc.asyncProperty(
        path,
        fc.constantFrom(...Object.keys(credentials)),
        identity,
        tenant,
        fc.constantFrom('GET', 'POST'),
        async (p, credential, id, t, method) => {
          const headers = [...credentials[credential]!, ...id, ...t];
          const inside = await decide(embedded, p, headers, method);
          if (hasDotSegments(p)) {
            expect(inside.status).toBe(400);
            return;
          }
          const served = await decide(proxy.url, p, headers, method);
          outcomes.add(`${served.status} ${served.code ?? ''} ${served.user ?? ''}`);
          expect({ path: p, credential, id, t, ...inside }).toEqual({
            path: p,
            credential,
            id,
            t,
            ...served,
          });
        },
      ),
      {
        numRuns: 200,
        // Each kind of decision at least once, whatever the random draw.
        examples: [
          ['/opt/a', 'alice', [], [], 'GET'],
          ['/req/a', 'apiKey', [], [], 'GET'],
          ['/opt/a', 'none', ['X_User_ID', 'alice'], [], 'GET'],
          ['/req/a', 'none', [], [], 'GET'],
          ['/req/a', 'noScope', [], [], 'POST'],
        ],
      },
    );
    // The generated requests reach every kind of decision, not one answer over and over.
    const seen = [...outcomes].join('|');
    for (const expected of [
      /^200 {2}alice/m,
      /^200 {2}robot/m,
      /^400 BAD_REQUEST/m,
      /^401 /m,
      /^403 /m,
    ])
      expect(seen.split('|').some((o) => expected.test(o))).toBe(true);
  });
});
