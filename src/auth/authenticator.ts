/**
 * The authenticator interface (cf. Oathkeeper's pipeline/authn): each one returns a principal,
 * NOT_RESPONSIBLE when the request carries no credential of its kind, or throws a typed error.
 * The first responsible authenticator decides.
 */
import type { IncomingMessage } from 'node:http';
import type { Principal, RequestScope } from '../request-scope';

export const NOT_RESPONSIBLE = Symbol('not-responsible');
export type AuthResult = Principal | typeof NOT_RESPONSIBLE;

export interface Authenticator {
  readonly method: Principal['authMethod'];
  authenticate(req: IncomingMessage, scope: RequestScope): Promise<AuthResult> | AuthResult;
}
