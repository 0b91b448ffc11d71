import { authorize, type AuthorizeInput } from '../../../src/auth/authorize';
import { audienceAccepted } from '../../../src/auth/jwt';
import { AuthgateError } from '../../../src/errors';
import type { Principal } from '../../../src/request-scope';

const alice: Principal = {
  userId: 'alice',
  tenantIds: ['t1', 't2'],
  scopes: ['read', 'write'],
  authMethod: 'jwt',
};

function run(over: Partial<AuthorizeInput>): string[] | string {
  try {
    return authorize({
      principal: alice,
      method: 'GET',
      rawHeaders: [],
      requiredScopes: [],
      tenantHeader: 'x-tenant-id',
      internalCaller: false,
      ...over,
    });
  } catch (err) {
    return (err as AuthgateError).code;
  }
}

describe('authorize', () => {
  const table: Array<[string, Partial<AuthorizeInput>, string[] | string]> = [
    ['no X-User-ID → set from principal', {}, ['X-User-ID', 'alice']],
    ['equal X-User-ID → untouched', { rawHeaders: ['X-User-ID', 'alice'] }, []],
    ['different X-User-ID → 403', { rawHeaders: ['x-user-id', 'bob'] }, 'IDENTITY_MISMATCH'],
    [
      'different X-User-ID from an internal hop → passed through',
      { rawHeaders: ['X-User-ID', 'bob'], internalCaller: true },
      [],
    ],
    ['scopes held', { requiredScopes: ['read'] }, ['X-User-ID', 'alice']],
    ['scope missing', { requiredScopes: ['read', 'admin'] }, 'INSUFFICIENT_SCOPE'],
    ['tenant granted', { rawHeaders: ['X-Tenant-ID', 't2'] }, ['X-User-ID', 'alice']],
    ['tenant not granted', { rawHeaders: ['X-Tenant-ID', 't3'] }, 'TENANT_FORBIDDEN'],
    ['tenant matched case-sensitively', { rawHeaders: ['X-Tenant-ID', 'T1'] }, 'TENANT_FORBIDDEN'],
    [
      'custom tenant header',
      { tenantHeader: 'x-workspace', rawHeaders: ['X-Workspace', 'nope'] },
      'TENANT_FORBIDDEN',
    ],
    [
      'tenant header from an internal hop is still checked',
      { internalCaller: true, rawHeaders: ['X-Tenant-ID', 't9'] },
      'TENANT_FORBIDDEN',
    ],
  ];
  it.each(table)('%s', (_name, input, expected) => {
    expect(run(input)).toEqual(expected);
  });
});

describe('audienceAccepted (the JWT aud check authgate makes itself)', () => {
  it.each([
    ['no audience configured', 'x', undefined, true],
    ['string claim, string accepted', 'api', 'api', true],
    ['string claim, other audience', 'web', 'api', false],
    ['list claim with one accepted', ['web', 'api'], ['api', 'mlflow'], true],
    ['list claim, none accepted', ['web'], ['api'], false],
    ['no claim while one is required', undefined, 'api', false],
    ['a number claim never matches', 1, ['1'], false],
    ['an empty list claim', [], 'api', false],
  ])('%s', (_name, claim, accepted, expected) => {
    expect(audienceAccepted(claim, accepted as string | string[] | undefined)).toBe(expected);
  });
});
