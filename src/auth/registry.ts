/**
 * Authenticator registration (cf. Oathkeeper's pipeline/authn): each authenticator's module
 * declares, in one place, when it is configured, which headers it decides on (they are then
 * guarded — underscore spellings, `Connection`, duplicates — and masked in logs like every
 * identity header), which headers only a trusted proxy may send, and how it is built. Adding an
 * authenticator is its own file plus one line in AUTHENTICATOR_MODULES; the proxy chain, the
 * header guard and the logger read the list. The order is the order authenticators are asked.
 */
import type { Clock } from '../clock';
import type { Config } from '../config/schema';
import type { Logger } from '../logging/logger';
import type { RedisHandle } from '../redis';
import type { Principal } from '../request-scope';
import { albOidcModule } from './alb-oidc';
import { apiKeyModule } from './api-key';
import type { Authenticator } from './authenticator';
import { jwtModule } from './jwt';
import type { AuthObserver } from './observer';

export interface AuthenticatorDeps {
  logger: Logger;
  observer: AuthObserver;
  clock?: Clock;
  redis?: RedisHandle;
}

/** A built authenticator with its lifecycle (each step optional). */
export interface BuiltAuthenticator {
  readonly authenticator: Authenticator;
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

/** The ALB's identity first: a browser behind ALB OIDC carries nothing else. */
export const AUTHENTICATOR_MODULES: readonly AuthenticatorModule[] = [
  albOidcModule,
  jwtModule,
  apiKeyModule,
];

/** Every header some authenticator decides on (for the header guard and the log masker). */
export function authenticatorHeaders(config: Readonly<Config>): string[] {
  return AUTHENTICATOR_MODULES.flatMap((m) => m.headers(config));
}

export function trustedOnlyPrefixes(): string[] {
  return AUTHENTICATOR_MODULES.flatMap((m) => m.trustedOnlyPrefixes ?? []);
}
