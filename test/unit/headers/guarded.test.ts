import fc from 'fast-check';
import { AuthgateError } from '../../../src/errors';
import {
  DEFAULT_HEADER_GUARD,
  checkGuardedHeaders,
  compileHeaderGuard,
  extendHeaderGuard,
} from '../../../src/headers/guarded';
import { stripHopByHop } from '../../../src/headers/hop-by-hop';

const guard = compileHeaderGuard({ tenantHeaders: ['X-Workspace'], apiKeyHeader: 'X-Team-Key' });

describe('compileHeaderGuard', () => {
  it('guards identity headers, every tenant header and the API-key header', () => {
    for (const name of [
      'authorization',
      'x-user-id',
      'x-tenant-id',
      'x-request-id',
      'x-workspace',
      'x-team-key',
    ])
      expect(guard.connectionProtected.has(name)).toBe(true);
    expect([...guard.singleValued].sort()).toEqual(['x-tenant-id', 'x-user-id', 'x-workspace']);
  });
});

describe('checkGuardedHeaders', () => {
  it.each<[string, string[], boolean]>([
    ['plain', ['X-Workspace', 't1', 'X-User-ID', 'a'], true],
    ['underscore tenant header', ['X_Workspace', 't1'], false],
    ['underscore API-key header', ['x_team_key', 'k'], false],
    ['underscore unguarded header', ['X_Other', '1'], true],
    ['repeated tenant header', ['X-Workspace', 't1', 'X-WORKSPACE', 't1'], false],
    ['comma-listed tenant', ['X-Workspace', 't1,t2'], false],
    ['two Authorization', ['Authorization', 'Bearer a', 'authorization', 'Bearer a'], false],
  ])('%s', (_name, raw, ok) => {
    const run = () => checkGuardedHeaders(raw, guard);
    if (ok) expect(run).not.toThrow();
    else expect(run).toThrow(expect.objectContaining({ status: 400 }));
  });

  it('x-amzn-oidc-* only from a trusted proxy (any case)', () => {
    for (const name of ['x-amzn-oidc-data', 'X-Amzn-Oidc-Identity', 'x-amzn-oidc-anything']) {
      expect(() => checkGuardedHeaders([name, 'v'], guard, false)).toThrow(
        expect.objectContaining({ status: 400, reason: 'untrusted_alb_header' }),
      );
      expect(() => checkGuardedHeaders([name, 'v'], guard, true)).not.toThrow();
    }
  });

  /** What the configuration above must guard, written out here, not read from the guard. */
  const EXPECTED_GUARDED = [
    'authorization',
    'x-user-id',
    'x-tenant-id',
    'x-request-id',
    'x-api-key',
    'x-workspace',
    'x-team-key',
    'x-amzn-oidc-data',
    'x-amzn-oidc-identity',
    'x-amzn-oidc-accesstoken',
    'host',
    'content-length',
  ];

  it.each(['x_amzn_oidc_data', 'X_Amzn_Oidc_Identity', 'x_amzn_oidc_accesstoken', 'x_api_key'])(
    'the underscore spelling %s is refused even from a trusted proxy',
    (name) => {
      expect(() => checkGuardedHeaders([name, 'v'], guard, true)).toThrow(
        expect.objectContaining({ status: 400, reason: 'underscore_header' }),
      );
    },
  );

  it('property: every header authgate decides on survives any Connection list', () => {
    fc.assert(
      fc.property(
        fc.subarray(EXPECTED_GUARDED, { minLength: 1 }),
        fc.array(fc.constantFrom('close', 'keep-alive', 'X-Other', ' ', ''), { maxLength: 3 }),
        (listed, extra) => {
          const cased = listed.map((n) => n.toUpperCase());
          const raw = ['Connection', [...cased, ...extra].join(', '), 'X-Other', 'o'];
          for (const n of EXPECTED_GUARDED) raw.push(n, 'v');
          const out = stripHopByHop(raw, { protect: guard.connectionProtected });
          for (const n of EXPECTED_GUARDED) expect(out).toContain(n);
          // ... while an unguarded header listed in Connection is removed.
          if (extra.includes('X-Other')) expect(out).not.toContain('X-Other');
        },
      ),
    );
  });
});

describe('the guard, written out', () => {
  it('a configuration’s guard: every set exactly', () => {
    const g = compileHeaderGuard({
      tenantHeaders: ['X-Workspace'],
      apiKeyHeader: 'X-Team-Key',
      identityHeaders: ['X-Session'],
      trustedOnlyPrefixes: ['X-Edge-'],
    });
    const decided = [
      'authorization',
      'x-user-id',
      'x-tenant-id',
      'x-request-id',
      'x-api-key',
      'x-workspace',
      'x-team-key',
      'x-amzn-oidc-data',
      'x-amzn-oidc-identity',
      'x-amzn-oidc-accesstoken',
      'x-session',
    ].sort();
    expect([...g.underscoreGuarded].sort()).toEqual(decided);
    expect([...g.connectionProtected].sort()).toEqual(
      [...decided, 'host', 'content-length'].sort(),
    );
    expect([...g.singleValued].sort()).toEqual(['x-tenant-id', 'x-user-id', 'x-workspace']);
    expect(g.trustedOnlyPrefixes).toEqual(['x-amzn-oidc-', 'x-edge-']);
  });

  it('the default guard: identity and load-balancer headers only', () => {
    expect([...DEFAULT_HEADER_GUARD.singleValued].sort()).toEqual(['x-tenant-id', 'x-user-id']);
    expect(DEFAULT_HEADER_GUARD.trustedOnlyPrefixes).toEqual(['x-amzn-oidc-']);
    expect(DEFAULT_HEADER_GUARD.underscoreGuarded.has('x-workspace')).toBe(false);
  });

  it('extendHeaderGuard adds an embedded call’s tenant header to every set', () => {
    const g = compileHeaderGuard({ tenantHeaders: [] });
    extendHeaderGuard(g, { tenantHeaders: ['X-Org'] });
    expect(g.singleValued.has('x-org')).toBe(true);
    expect(g.underscoreGuarded.has('x-org')).toBe(true);
    expect(g.connectionProtected.has('x-org')).toBe(true);
    expect(() => checkGuardedHeaders(['X-Org', 'a,b'], g)).toThrow(
      expect.objectContaining({ reason: 'identity_list' }),
    );
  });

  const g = compileHeaderGuard({ tenantHeaders: ['X-Workspace'] });
  const refusal = (raw: string[], trusted = false) => {
    try {
      checkGuardedHeaders(raw, g, trusted);
      return 'ok';
    } catch (e) {
      const err = e as AuthgateError;
      return `${err.status} ${err.reason}: ${err.message}`;
    }
  };
  it.each<[string, string[], boolean, string]>([
    ['nothing guarded', ['Accept', '*/*'], false, 'ok'],
    ['one Authorization', ['Authorization', 'Bearer a,b'], false, 'ok'],
    [
      'two Authorization',
      ['Authorization', 'a', 'AUTHORIZATION', 'b'],
      true,
      '400 duplicate_authorization: Only one Authorization header is allowed.',
    ],
    [
      'an ALB header from outside',
      ['X-Amzn-Oidc-Data', 'x'],
      false,
      '400 untrusted_alb_header: X-Amzn-Oidc-Data is only accepted from the load balancer.',
    ],
    ['an ALB header from the load balancer', ['X-Amzn-Oidc-Data', 'x'], true, 'ok'],
    [
      'an underscore spelling',
      ['X_User_Id', 'a'],
      false,
      '400 underscore_header: Header X_User_Id must be spelled with "-", not "_".',
    ],
    ['an underscore name nobody decides on', ['X_Trace', 'a'], false, 'ok'],
    [
      'a repeated X-User-ID',
      ['X-User-ID', 'a', 'x-user-id', 'a'],
      false,
      '400 duplicate_identity: Only one x-user-id header is allowed.',
    ],
    [
      'a listed tenant',
      ['X-Workspace', 'a, b'],
      false,
      '400 identity_list: X-Workspace must hold a single value, not a list.',
    ],
    [
      'one of each single-valued header',
      ['X-User-ID', 'a', 'X-Tenant-ID', 't', 'X-Workspace', 'w'],
      false,
      'ok',
    ],
    [
      'a repeated header that is not single-valued',
      ['X-Request-ID', 'a', 'X-Request-ID', 'b'],
      false,
      'ok',
    ],
    ['a comma in a header that is not single-valued', ['X-Request-ID', 'a,b'], false, 'ok'],
  ])('%s', (_name, raw, trusted, expected) => {
    expect(refusal(raw, trusted)).toBe(expected);
  });
});
