/**
 * Per-route authorisation on a verified principal (docs/design.md#headers): scopes (per method), tenant
 * membership, and the X-User-ID identity rule. Runs on every request — cached authentication
 * never carries a tenant or identity decision from one request to another.
 */
import { AuthgateError } from '../errors';
import { headerValues, type RawHeaders } from '../headers/hop-by-hop';
import type { Principal } from '../request-scope';
import { METHOD_NOT_GRANTED } from '../routes/route-table';

/** 403 for a method a per-method scope map does not list (and has no "*"). */
export function methodNotGrantedError(method: string): AuthgateError {
  return new AuthgateError('INSUFFICIENT_SCOPE', {
    message: `No scope grants ${method} on this route.`,
    bearerError: 'insufficient_scope',
    reason: 'method_not_granted',
  });
}

export interface AuthorizeInput {
  principal: Principal;
  method: string;
  rawHeaders: RawHeaders;
  /** METHOD_NOT_GRANTED: the route's scope map grants this method to nobody. */
  requiredScopes: readonly string[] | typeof METHOD_NOT_GRANTED;
  /** Lower-cased tenant header name of the route. */
  tenantHeader: string;
  /** The caller is an internal hop trusted to pass X-User-ID through. */
  internalCaller: boolean;
}

/** Returns the headers to add upstream (X-User-ID when absent), or throws 403. */
export function authorize(input: AuthorizeInput): RawHeaders {
  const { principal } = input;
  if (input.requiredScopes === METHOD_NOT_GRANTED) throw methodNotGrantedError(input.method);
  const missing = input.requiredScopes.filter((s) => !principal.scopes.includes(s));
  if (missing.length > 0) {
    throw new AuthgateError('INSUFFICIENT_SCOPE', {
      message: `The credentials lack the required scope(s): ${missing.join(' ')}.`,
      bearerError: 'insufficient_scope',
      reason: 'missing_scope',
      details: { missing_scopes: missing },
    });
  }
  for (const tenant of headerValues(input.rawHeaders, input.tenantHeader)) {
    if (!principal.tenantIds.includes(tenant)) {
      throw new AuthgateError('TENANT_FORBIDDEN', { reason: 'tenant_not_granted' });
    }
  }
  const userIds = headerValues(input.rawHeaders, 'x-user-id');
  if (userIds.length === 0) return ['X-User-ID', principal.userId];
  if (!input.internalCaller && userIds.some((u) => u !== principal.userId)) {
    throw new AuthgateError('IDENTITY_MISMATCH', { reason: 'user_id_mismatch' });
  }
  return [];
}
