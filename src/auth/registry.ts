/**
 * Authenticator registration (cf. Oathkeeper's pipeline/authn): each authenticator's module
 * declares, in one place, when it is configured, which headers it decides on (they are then
 * guarded — underscore spellings, `Connection`, duplicates — and masked in logs like every
 * identity header), which headers only a trusted proxy may send, and how it is built. Adding an
 * authenticator is its own file plus one line in AUTHENTICATOR_MODULES; the proxy chain, the
 * header guard and the logger read the list. The order is the order authenticators are asked.
 */
import type { Config } from '../config/schema';
import { compileHeaderGuard, type HeaderGuard } from '../headers/guarded';
import { albOidcModule } from './alb-oidc';
import { apiKeyModule } from './api-key';
import type { AuthenticatorModule } from './authenticator';
import { jwtModule } from './jwt';
import { oidcSessionModule } from './oidc/sign-in';
import { clientCertModule } from './client-cert';

/** The identity assertion's header when none is configured (guarded all the same). */
export const DEFAULT_ASSERTION_HEADER = 'X-Authgate-Assertion';

export type { AuthenticatorDeps, AuthenticatorModule, BuiltAuthenticator } from './authenticator';

/**
 * The ALB's identity first: a browser behind ALB OIDC carries nothing else. authgate's own
 * session last: its cookie is ambient, so any credential the caller sends decides first.
 */
export const AUTHENTICATOR_MODULES: readonly AuthenticatorModule[] = [
  albOidcModule,
  jwtModule,
  apiKeyModule,
  clientCertModule,
  oidcSessionModule,
];

/** Every header some authenticator decides on (for the header guard and the log masker). */
export function authenticatorHeaders(config: Readonly<Config>): string[] {
  return AUTHENTICATOR_MODULES.flatMap((m) => m.headers(config));
}

export function trustedOnlyPrefixes(): string[] {
  return AUTHENTICATOR_MODULES.flatMap((m) => m.trustedOnlyPrefixes ?? []);
}

/**
 * The one header guard of a configuration: every route's tenant header, every configured
 * authenticator's headers and trusted-proxy-only prefixes (embedded routes are added to it).
 */
export function configHeaderGuard(config: Readonly<Config>): HeaderGuard {
  return compileHeaderGuard({
    tenantHeaders: config.routes.map((r) => r.tenantHeader),
    // The identity assertion is authgate's to send: a client's, in any spelling, never passes.
    identityHeaders: [
      ...authenticatorHeaders(config),
      config.identityAssertion?.header ?? DEFAULT_ASSERTION_HEADER,
      ...config.routes.flatMap((r) => Object.keys(r.identityHeaders)),
    ],
    trustedOnlyPrefixes: trustedOnlyPrefixes(),
  });
}
