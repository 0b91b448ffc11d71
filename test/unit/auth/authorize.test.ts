import { authorize, type AuthorizeInput } from '../../../src/auth/authorize';
import { audienceAccepted } from '../../../src/auth/jwt';
import { AuthgateError } from '../../../src/errors';
import type { Principal } from '../../../src/request-scope';
import { METHOD_NOT_GRANTED } from '../../../src/routes/route-table';

const alice: Principal = {
  userId: 'alice',
  tenantIds: ['t1', 't2'],
  scopes: ['read', 'write'],
  authMethod: 'jwt',
};

/** The whole decision: the headers to add, or the error with everything a client sees of it. */
type Outcome =
  | string[]
  | {
      code: string;
      reason: string;
      message: string;
      bearerError?: string | undefined;
      details?: Record<string, unknown> | undefined;
    };

function run(over: Partial<AuthorizeInput>): Outcome {
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
    const e = err as AuthgateError;
    return {
      code: e.code,
      reason: e.reason,
      message: e.message,
      ...(e.bearerError ? { bearerError: e.bearerError } : {}),
      ...(e.details ? { details: { ...e.details } } : {}),
    };
  }
}

const SET_ALICE = ['X-User-ID', 'alice'];
const MISMATCH = {
  code: 'IDENTITY_MISMATCH',
  reason: 'user_id_mismatch',
  message: new AuthgateError('IDENTITY_MISMATCH').message,
};
const TENANT = {
  code: 'TENANT_FORBIDDEN',
  reason: 'tenant_not_granted',
  message: new AuthgateError('TENANT_FORBIDDEN').message,
};
const missingScopes = (...missing: string[]) => ({
  code: 'INSUFFICIENT_SCOPE',
  reason: 'missing_scope',
  message: `The credentials lack the required scope(s): ${missing.join(' ')}.`,
  bearerError: 'insufficient_scope',
  details: { missing_scopes: missing },
});

describe('authorize', () => {
  const table: Array<[string, Partial<AuthorizeInput>, Outcome]> = [
    ['no X-User-ID → set from principal', {}, SET_ALICE],
    ['equal X-User-ID → untouched', { rawHeaders: ['X-User-ID', 'alice'] }, []],
    ['different X-User-ID → 403', { rawHeaders: ['x-user-id', 'bob'] }, MISMATCH],
    [
      'two X-User-ID, one of them the caller → 403',
      { rawHeaders: ['X-User-ID', 'alice', 'X-User-ID', 'bob'] },
      MISMATCH,
    ],
    [
      'two X-User-ID, the caller first and last → 403',
      { rawHeaders: ['X-User-ID', 'bob', 'X-User-ID', 'alice'] },
      MISMATCH,
    ],
    [
      'two X-User-ID, both the caller → untouched',
      { rawHeaders: ['X-User-ID', 'alice', 'x-user-id', 'alice'] },
      [],
    ],
    [
      'different X-User-ID from an internal hop → passed through',
      { rawHeaders: ['X-User-ID', 'bob'], internalCaller: true },
      [],
    ],
    ['no X-User-ID from an internal hop → set from principal', { internalCaller: true }, SET_ALICE],
    ['scopes held', { requiredScopes: ['read'] }, SET_ALICE],
    ['all scopes held', { requiredScopes: ['read', 'write'] }, SET_ALICE],
    ['scope missing', { requiredScopes: ['read', 'admin'] }, missingScopes('admin')],
    [
      'every missing scope named, in order',
      { requiredScopes: ['admin', 'read', 'deploy'] },
      missingScopes('admin', 'deploy'),
    ],
    [
      'scope missing though X-User-ID matches',
      { requiredScopes: ['admin'], rawHeaders: ['X-User-ID', 'alice'] },
      missingScopes('admin'),
    ],
    [
      'a method no scope grants → 403 method_not_granted',
      { requiredScopes: METHOD_NOT_GRANTED, method: 'PATCH' },
      {
        code: 'INSUFFICIENT_SCOPE',
        reason: 'method_not_granted',
        message: 'No scope grants PATCH on this route.',
        bearerError: 'insufficient_scope',
      },
    ],
    ['tenant granted', { rawHeaders: ['X-Tenant-ID', 't2'] }, SET_ALICE],
    [
      'two tenants, both granted',
      { rawHeaders: ['X-Tenant-ID', 't1', 'X-Tenant-ID', 't2'] },
      SET_ALICE,
    ],
    [
      'two tenants, the second not granted',
      { rawHeaders: ['X-Tenant-ID', 't1', 'X-Tenant-ID', 't3'] },
      TENANT,
    ],
    ['tenant not granted', { rawHeaders: ['X-Tenant-ID', 't3'] }, TENANT],
    ['tenant matched case-sensitively', { rawHeaders: ['X-Tenant-ID', 'T1'] }, TENANT],
    [
      'custom tenant header',
      { tenantHeader: 'x-workspace', rawHeaders: ['X-Workspace', 'nope'] },
      TENANT,
    ],
    [
      'the default tenant header is not the route’s when the route names another',
      { tenantHeader: 'x-workspace', rawHeaders: ['X-Tenant-ID', 'nope'] },
      SET_ALICE,
    ],
    [
      'tenant header from an internal hop is still checked',
      { internalCaller: true, rawHeaders: ['X-Tenant-ID', 't9'] },
      TENANT,
    ],
    [
      'scope is checked before tenant',
      { requiredScopes: ['admin'], rawHeaders: ['X-Tenant-ID', 't9'] },
      missingScopes('admin'),
    ],
    [
      'tenant is checked before identity',
      { rawHeaders: ['X-Tenant-ID', 't9', 'X-User-ID', 'bob'] },
      TENANT,
    ],
    [
      'a principal with no tenants is refused any tenant',
      { principal: { ...alice, tenantIds: [] }, rawHeaders: ['X-Tenant-ID', 't1'] },
      TENANT,
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
