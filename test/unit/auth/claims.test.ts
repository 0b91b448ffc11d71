/** Claim names and dotted paths: the exact top-level claim first, own properties only. */
import fc from 'fast-check';
import { claimAt } from '../../../src/auth/claims';
import { principalFromClaims } from '../../../src/auth/jwt';
import { parseConfig } from '../../../src/config/load';

describe('claimAt', () => {
  const token = {
    sub: 'alice',
    groups: ['a'],
    'https://example.com/roles': ['r1'],
    'realm.dotted': 'top',
    realm: { dotted: 'nested' },
    realm_access: { roles: ['mlflow:read'] },
    resource_access: { mlflow: { roles: ['edit'] } },
    list: [{ x: 1 }],
    nothing: null,
  };
  it.each<[string, unknown]>([
    ['sub', 'alice'],
    ['groups', ['a']],
    ['https://example.com/roles', ['r1']],
    ['realm.dotted', 'top'], // a claim of that exact name wins over the path
    ['realm_access.roles', ['mlflow:read']],
    ['resource_access.mlflow.roles', ['edit']],
    ['resource_access.mlflow', { roles: ['edit'] }],
    ['resource_access.other.roles', undefined],
    ['missing', undefined],
    ['missing.deeper', undefined],
    ['sub.length', undefined], // not into strings
    ['list.0.x', undefined], // not into arrays
    ['nothing.x', undefined],
    ['realm_access.constructor', undefined],
    ['realm_access.__proto__', undefined],
    ['constructor', undefined],
    ['__proto__', undefined],
    ['toString', undefined],
    ['realm_access.roles.length', undefined],
    ['.realm_access', undefined],
    ['realm_access.', undefined],
  ])('%s → %j', (name, expected) => {
    expect(claimAt(token, name)).toEqual(expected);
  });

  it('finds any value placed at any path (property)', () => {
    const key = fc.stringMatching(/^[a-z_]{1,8}$/);
    fc.assert(
      fc.property(fc.array(key, { minLength: 1, maxLength: 4 }), fc.jsonValue(), (path, value) => {
        const payload: Record<string, unknown> = {};
        let node = payload;
        path.forEach((step, i) => {
          if (i === path.length - 1) node[step] = value;
          else node = node[step] = {} as Record<string, unknown>;
        });
        expect(claimAt(payload, path.join('.'))).toEqual(value);
      }),
    );
  });
});

describe('principalFromClaims with nested claim settings', () => {
  const issuer = parseConfig(
    {
      auth: {
        jwt: {
          issuers: [
            {
              issuer: 'kc',
              algorithms: ['HS256'],
              secret: 's'.repeat(32),
              claims: {
                userId: 'preferred_username',
                scopes: 'realm_access.roles',
                tenants: 'org.tenants',
              },
            },
          ],
        },
      },
      routes: [{ name: 'a', prefix: '/', upstream: 'http://u' }],
    },
    {},
  ).auth.jwt!.issuers[0]!;
  it.each<[string, Record<string, unknown>, unknown]>([
    [
      'nested roles and tenants',
      {
        preferred_username: 'carol',
        realm_access: { roles: ['r1', 'r2'] },
        org: { tenants: 't1 t2' },
      },
      { userId: 'carol', scopes: ['r1', 'r2'], tenantIds: ['t1', 't2'] },
    ],
    [
      'no nested roles: the standard scope claim',
      { preferred_username: 'carol', scope: 'read' },
      { userId: 'carol', scopes: ['read'], tenantIds: [] },
    ],
    ['a nested user id that is an object', { preferred_username: { a: 1 } }, 'sub_not_string'],
    [
      'roles that are not strings',
      { preferred_username: 'c', realm_access: { roles: [1] } },
      'bad_scope_claim',
    ],
  ])('%s', (_name, payload, expected) => {
    let got: unknown;
    try {
      const p = principalFromClaims(payload, issuer);
      got = { userId: p.userId, scopes: p.scopes, tenantIds: p.tenantIds };
    } catch (e) {
      got = (e as { reason: string }).reason;
    }
    expect(got).toEqual(expected);
  });
});
