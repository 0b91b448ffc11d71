/**
 * The headers authgate makes decisions on, compiled from configuration (docs/design.md#headers):
 * the identity headers, every route's `tenantHeader`, the API-key header. Each of them is
 * guarded the same way, so a header cannot escape a rule by being named differently:
 *  - its underscore spelling (`X_Workspace`), which some servers fold into the real name, is
 *    refused (400);
 *  - a client cannot remove it by listing it in `Connection`;
 *  - single-valued identity headers may appear once and hold no comma list, since an upstream
 *    that joins or splits repeats would see another identity than the one authgate checked;
 *  - headers only the load balancer may send (`x-amzn-oidc-*`, docs/design.md#alb-integration) are refused from a
 *    peer outside `server.trustedProxies` — never trusted, never forwarded for an upstream to trust.
 */
import { AuthgateError } from '../errors';
import type { RawHeaders } from './hop-by-hop';

export interface HeaderGuard {
  /** Lower-cased names a `Connection` header can never remove. */
  readonly connectionProtected: ReadonlySet<string>;
  /** Lower-cased names whose `_` spellings are refused. */
  readonly underscoreGuarded: ReadonlySet<string>;
  /** Lower-cased names that must appear at most once, without a comma list. */
  readonly singleValued: ReadonlySet<string>;
  /** Lower-cased name prefixes accepted only from a trusted proxy. */
  readonly trustedOnlyPrefixes: readonly string[];
}

export interface HeaderGuardSources {
  /** Every route's tenant header. */
  tenantHeaders: readonly string[];
  /** The API-key header, when API keys are on. */
  apiKeyHeader?: string;
  /** More headers authgate decides on (each authenticator's, auth/registry.ts). */
  identityHeaders?: readonly string[];
  /** Header name prefixes only a trusted proxy may send (added to the load balancer's). */
  trustedOnlyPrefixes?: readonly string[];
}

/** The identity an AWS ALB's OIDC sign-in forwards. */
export const ALB_IDENTITY_HEADERS: readonly string[] = [
  'x-amzn-oidc-data',
  'x-amzn-oidc-identity',
  'x-amzn-oidc-accesstoken',
];

/** Always guarded, whatever the configuration says (X-API-Key: the default API-key header). */
export const IDENTITY_HEADERS: readonly string[] = [
  'authorization',
  'x-user-id',
  'x-tenant-id',
  'x-request-id',
  'x-api-key',
];

/** Framing and target: removing them would change what the upstream parses. */
const FRAMING_HEADERS: readonly string[] = ['host', 'content-length'];

/** The guard for a configuration. Built once at startup. */
export function compileHeaderGuard(sources: HeaderGuardSources): HeaderGuard {
  const lower = (names: readonly string[]): string[] => names.map((n) => n.toLowerCase());
  const tenants = lower(['x-tenant-id', ...sources.tenantHeaders]);
  const decided = [
    ...IDENTITY_HEADERS,
    ...tenants,
    ...lower(sources.apiKeyHeader ? [sources.apiKeyHeader] : []),
    ...ALB_IDENTITY_HEADERS,
    ...lower(sources.identityHeaders ?? []),
  ];
  return {
    connectionProtected: new Set([...decided, ...FRAMING_HEADERS]),
    underscoreGuarded: new Set(decided),
    singleValued: new Set(['x-user-id', ...tenants]),
    trustedOnlyPrefixes: [
      ...new Set(['x-amzn-oidc-', ...lower(sources.trustedOnlyPrefixes ?? [])]),
    ],
  };
}

/**
 * Adds headers to a compiled guard: an embedded `authenticate({tenantHeader})` decides on its
 * tenant header exactly as a configured route does, so it is guarded the same way.
 */
export function extendHeaderGuard(guard: HeaderGuard, sources: HeaderGuardSources): void {
  const more = compileHeaderGuard(sources);
  for (const name of more.connectionProtected) (guard.connectionProtected as Set<string>).add(name);
  for (const name of more.underscoreGuarded) (guard.underscoreGuarded as Set<string>).add(name);
  for (const name of more.singleValued) (guard.singleValued as Set<string>).add(name);
}

/** The guard with no configuration: identity headers only. */
export const DEFAULT_HEADER_GUARD: HeaderGuard = compileHeaderGuard({ tenantHeaders: [] });

function bad(message: string, reason: string): AuthgateError {
  return new AuthgateError('BAD_REQUEST', { message, reason, bearerError: undefined });
}

/**
 * Refuses ambiguous identity headers before anything else looks at them: two `Authorization`
 * headers, `_` spellings of guarded names, repeated or comma-listed single-valued headers, and
 * load-balancer headers from a peer that is not a trusted proxy. One pass over the headers.
 */
export function checkGuardedHeaders(
  raw: RawHeaders,
  guard: HeaderGuard,
  peerTrusted = false,
): void {
  let authorizations = 0;
  let seen: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const lower = name.toLowerCase();
    if (lower === 'authorization') {
      if (++authorizations > 1)
        throw bad('Only one Authorization header is allowed.', 'duplicate_authorization');
      continue;
    }
    if (!peerTrusted && guard.trustedOnlyPrefixes.some((p) => lower.startsWith(p))) {
      throw bad(`${name} is only accepted from the load balancer.`, 'untrusted_alb_header');
    }
    if (lower.includes('_')) {
      if (guard.underscoreGuarded.has(lower.replace(/_/g, '-'))) {
        throw bad(`Header ${name} must be spelled with "-", not "_".`, 'underscore_header');
      }
      continue;
    }
    if (guard.singleValued.has(lower)) {
      seen ??= new Set();
      if (seen.has(lower)) throw bad(`Only one ${name} header is allowed.`, 'duplicate_identity');
      seen.add(lower);
      if ((raw[i + 1] as string).includes(','))
        throw bad(`${name} must hold a single value, not a list.`, 'identity_list');
    }
  }
}
