/**
 * The authenticator interface (cf. Oathkeeper's pipeline/authn): each one returns a principal,
 * NOT_RESPONSIBLE when the request carries no credential of its kind, or throws a typed error.
 * The first responsible authenticator decides.
 */
import type { IncomingMessage } from 'node:http';
import type { Clock } from '../clock';
import type { Config } from '../config/schema';
import type { Logger } from '../logging/logger';
import type { RedisHandle } from '../redis';
import type { Principal, RequestScope } from '../request-scope';
import type { AuthObserver } from './observer';
import type { BrowserSignIn } from './oidc/sign-in';

export const NOT_RESPONSIBLE = Symbol('not-responsible');
export type AuthResult = Principal | typeof NOT_RESPONSIBLE;

export interface Authenticator {
  readonly method: Principal['authMethod'];
  authenticate(req: IncomingMessage, scope: RequestScope): Promise<AuthResult> | AuthResult;
  /**
   * The principal this request's credential was already verified as (cached and still valid),
   * found without I/O or a signature check; undefined otherwise. An address the failed-auth guard
   * blocks still gets through with a credential that verifies.
   */
  verified?(scope: RequestScope): Principal | undefined;
}

/* Registration of an authenticator module (the list is auth/registry.ts). */

export interface AuthenticatorDeps {
  logger: Logger;
  observer: AuthObserver;
  clock?: Clock;
  redis?: RedisHandle;
}

/** A built authenticator with its lifecycle (each step optional). */
export interface BuiltAuthenticator {
  readonly authenticator: Authenticator;
  /** Browser sign-in's own paths and redirects (the OIDC session authenticator only). */
  readonly signIn?: BrowserSignIn;
  /** Background work (subscriptions, probes); no I/O in construction. */
  start?(): void;
  /** Fetches what the first request would otherwise wait for (keys); never throws. */
  warmUp?(): Promise<void>;
  close?(): void;
}

export interface AuthenticatorModule {
  readonly method: Principal['authMethod'];
  /** Lower-case names of the request headers it decides on, for this config. */
  headers(config: Readonly<Config>): readonly string[];
  /** Lower-case header name prefixes accepted only from `server.trustedProxies`. */
  readonly trustedOnlyPrefixes?: readonly string[];
  /** Built when configured; undefined otherwise. */
  build(config: Readonly<Config>, deps: AuthenticatorDeps): BuiltAuthenticator | undefined;
}
