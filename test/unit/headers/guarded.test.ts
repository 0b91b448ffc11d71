import fc from 'fast-check';
import { checkGuardedHeaders, compileHeaderGuard } from '../../../src/headers/guarded';
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
