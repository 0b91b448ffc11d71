/**
 * Stages "authenticate" and "authorise": the first responsible authenticator decides who the
 * caller is (Oathkeeper's pipeline/authn), then the route's scopes, tenant and identity-header
 * rules decide what it may do, and the request's tenant is decided — once, verified — for every
 * stage after it (rate limits, the upstream credential, logs). One metric sample and one audit
 * line per decision. The failed-authentication guard runs before any signature check or
 * auth-service call.
 *
 * The same stage serves the proxy chain and `gate.authenticate()` (docs/design.md).
 */
import type { IncomingMessage } from 'node:http';
import { NOT_RESPONSIBLE, type Authenticator } from '../auth/authenticator';
import { authorize, methodNotGrantedError } from '../auth/authorize';
import { claimAt } from '../auth/claims';
import { malformedCredentialError } from '../auth/credentials';
import type { FailedAuthGuard } from '../auth/failed-auth-guard';
import { isBrowserNavigation } from '../auth/oidc/browser';
import type { BrowserSignIn } from '../auth/oidc/sign-in';
import { AuthgateError, toAuthgateError } from '../errors';
import { headerValues } from '../headers/hop-by-hop';
import type { LogFields, Logger } from '../logging/logger';
import type { Metrics } from '../metrics';
import type { Principal, RequestScope } from '../request-scope';
import {
  METHOD_NOT_GRANTED,
  pathTenant,
  repositoryParamTenants,
  routePath,
  type CompiledRoute,
} from '../routes/route-table';

export interface AuthStageOptions {
  authenticators: readonly Authenticator[];
  failedAuthGuard: FailedAuthGuard;
  logger: Logger;
  metrics?: Metrics;
  /** Browser sign-in: navigations on `login: browser` routes are sent to the provider. */
  signIn?: BrowserSignIn;
  /** `logging.auditLog`: `denials` writes decision lines only for deny and error. */
  auditLog?: 'all' | 'denials';
}

export type AuthStage = (
  req: IncomingMessage,
  scope: RequestScope,
  route: CompiledRoute,
) => Promise<void>;

/** The value of the route's tenant header as sent (at most one: the header guard). */
function tenantHeaderValue(scope: RequestScope, route: CompiledRoute): string | undefined {
  return headerValues(scope.rawHeaders, route.config.tenantHeader.toLowerCase())[0];
}

function tenantForbidden(reason: string, details?: Record<string, string>): AuthgateError {
  return new AuthgateError('TENANT_FORBIDDEN', { reason, details });
}

/**
 * The tenant of a request with a verified principal, decided once: every tenant the request
 * names — the tenant header, the path's tenant segment, a repository named in the query
 * (`from=` of a registry mount) — must be one of the principal's, and they must agree. The
 * upstream gets the path's tenant in the tenant header when the caller sent none.
 */
function decideTenant(scope: RequestScope, route: CompiledRoute): string | undefined {
  const principal = scope.principal!;
  const header = tenantHeaderValue(scope, route);
  const fromPath = pathTenant(route, scope.path ?? '/');
  if (fromPath !== undefined) {
    if (!principal.tenantIds.includes(fromPath))
      throw tenantForbidden('path_tenant_not_granted', { path_tenant: fromPath });
    if (header !== undefined && header !== fromPath) throw tenantForbidden('tenant_path_mismatch');
    if (header === undefined) scope.addHeaders.push(route.config.tenantHeader, fromPath);
  }
  for (const named of repositoryParamTenants(route, scope.path ?? '/', scope.search)) {
    if (!principal.tenantIds.includes(named)) throw tenantForbidden('query_tenant_not_granted');
  }
  const named = header ?? fromPath;
  if (named !== undefined) return named;
  // A token limited to one tenant acts for it, where the route says so.
  if (route.config.tenantFromToken && principal.tenantIds.length === 1) {
    const only = principal.tenantIds[0] as string;
    scope.addHeaders.push(route.config.tenantHeader, only);
    return only;
  }
  if (route.config.tenantRequired) {
    throw new AuthgateError('TENANT_REQUIRED', {
      message: `This route needs the tenant the request acts for (${route.config.tenantHeader}).`,
      reason: 'tenant_missing',
    });
  }
  return principal.tenantIds[0];
}

/**
 * The route's `identityHeaders`: each from a claim of the verified principal (values that are
 * not header-safe are left out). A client's own value for one of them is refused, as a foreign
 * X-User-ID is.
 */
function identityHeaders(scope: RequestScope, route: CompiledRoute): void {
  const wanted = Object.entries(route.config.identityHeaders);
  if (wanted.length === 0) return;
  refuseClientIdentityHeaders(scope, route);
  const claims = scope.principal?.claims;
  if (!claims) return;
  for (const [name, path] of wanted) {
    const value = headerValueOf(claimAt(claims, path));
    if (value !== undefined) scope.addHeaders.push(name, value);
  }
}

/** A client's own value for a header the route derives from the identity: refused. */
function refuseClientIdentityHeaders(scope: RequestScope, route: CompiledRoute): void {
  if (scope.internal) return;
  for (const name of Object.keys(route.config.identityHeaders)) {
    if (headerValues(scope.rawHeaders, name.toLowerCase()).length > 0)
      throw new AuthgateError('IDENTITY_MISMATCH', {
        message: `${name} is set by the proxy from the verified identity.`,
        reason: 'client_identity_header',
      });
  }
}

const HEADER_SAFE = /^[\x20-\x7E]{1,4096}$/;

/** A claim as a header value: strings, numbers and booleans; lists comma-joined. */
function headerValueOf(value: unknown): string | undefined {
  let text: string | undefined;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'boolean') text = String(value);
  else if (Array.isArray(value) && value.every((v) => typeof v === 'string'))
    text = value.join(',');
  return text !== undefined && HEADER_SAFE.test(text) ? text : undefined;
}

/**
 * Without a verified principal, identity and tenant headers are refused exactly as a foreign
 * value would be: nobody vouches for them. Internal hops may pass them through, as they may
 * with a principal.
 */
function refuseUnverifiedIdentity(scope: RequestScope, route: CompiledRoute): void {
  if (scope.internal) return;
  if (headerValues(scope.rawHeaders, 'x-user-id').length > 0)
    throw new AuthgateError('IDENTITY_MISMATCH', { reason: 'unverified_user_id' });
  const tenantHeaders = new Set(['x-tenant-id', route.config.tenantHeader.toLowerCase()]);
  for (const name of tenantHeaders)
    if (headerValues(scope.rawHeaders, name).length > 0) throw tenantForbidden('unverified_tenant');
}

function authMethodOf(scope: RequestScope): string {
  if (scope.principal) return scope.principal.authMethod;
  if (scope.credentials?.apiKey !== undefined) return 'api_key';
  if (scope.credentials?.bearer !== undefined) return 'jwt';
  if (scope.credentials?.alb === true) return 'alb_oidc';
  if (scope.credentials?.session !== undefined) return 'session';
  return 'none';
}

/**
 * Builds the stage. Sets `scope.principal` and `scope.addHeaders` (the identity headers the
 * upstream gets), or throws the typed error of the denial.
 *
 * @example
 *   const authenticateAndAuthorize = createAuthStage({ authenticators, failedAuthGuard, ... });
 *   await authenticateAndAuthorize(req, scope, route);
 */
export function createAuthStage(options: AuthStageOptions): AuthStage {
  const { authenticators, failedAuthGuard, logger, metrics, signIn } = options;
  const allowsLogged = options.auditLog !== 'denials';

  async function authenticate(
    req: IncomingMessage,
    scope: RequestScope,
    route: CompiledRoute,
    verified: Principal | undefined,
  ): Promise<void> {
    if (route.config.auth === 'none') return;
    if (scope.preflight) return;
    if (scope.credentials?.malformed !== undefined) throw malformedCredentialError();
    // Already verified (the failed-auth guard looked it up): no authenticator is asked again.
    if (verified) {
      scope.principal = verified;
      return;
    }
    for (const authenticator of authenticators) {
      const result = await authenticator.authenticate(req, scope);
      if (result !== NOT_RESPONSIBLE) {
        scope.principal = result;
        return;
      }
    }
    if (route.config.auth === 'required' && !internalServiceCall(scope, route)) {
      // A person in a browser is sent to sign in; API clients and XHR get the typed 401.
      if (
        signIn !== undefined &&
        route.config.login === 'browser' &&
        isBrowserNavigation(scope.method, scope.rawHeaders)
      )
        throw await signIn.loginRedirect(req, scope);
      throw new AuthgateError('AUTH_REQUIRED', {
        reason: scope.credentials?.session !== undefined ? 'session_ended' : 'no_credentials',
      });
    }
  }

  /**
   * `upstreamAuth.mode: when-absent` (docs/design.md#upstream-credentials): a caller in internalNetworks that sent no
   * credential is an internal hop; it goes upstream in authgate's name instead of being refused.
   */
  function internalServiceCall(scope: RequestScope, route: CompiledRoute): boolean {
    return (
      route.config.upstreamAuth.mode === 'when-absent' &&
      scope.principal === undefined &&
      !scope.presented &&
      scope.internal
    );
  }

  function recordDecision(scope: RequestScope, route: CompiledRoute, thrown: unknown): void {
    const err = thrown === undefined ? undefined : toAuthgateError(thrown);
    const result = err ? (err.status === 503 ? 'error' : 'deny') : 'allow';
    const reason = err
      ? err.reason
      : scope.principal
        ? 'ok'
        : internalServiceCall(scope, route)
          ? 'internal_without_credential'
          : 'anonymous';
    const authMethod = authMethodOf(scope);
    scope.decision = result;
    metrics?.authDecision(route.name, authMethod, result, reason);
    if (result === 'allow' && !allowsLogged) return;
    writeAudit(scope, route, result, reason, err);
  }

  /** The one audit line of a decision: what was decided and why, never a credential. */
  function writeAudit(
    scope: RequestScope,
    route: CompiledRoute,
    decision: NonNullable<RequestScope['decision']>,
    reason: string,
    err: AuthgateError | undefined,
  ): void {
    const fields: LogFields = {
      type: 'audit',
      request_id: scope.requestId,
      route: route.name,
      method: scope.method,
      path: scope.path,
      decision,
      reason,
      error_code: err?.code,
      auth_method: authMethodOf(scope),
      user_id: scope.principal?.userId,
      issuer: scope.principal?.issuer,
      key_id: scope.principal?.keyId,
      auth_ms: scope.authMs === undefined ? undefined : Math.round(scope.authMs * 1000) / 1000,
      tenant_id: scope.tenantId,
      client_ip: scope.clientIp,
    };
    // A refusal's details (which check, which claim) follow its fields; an allow has none, and
    // its object keeps one shape (no spread on the hot path).
    if (err?.details) Object.assign(fields, err.details);
    logger[decision === 'would_deny' ? 'warn' : 'info']('auth decision', fields);
  }

  /**
   * The failed-auth guard stops further failing attempts from a blocked address before any
   * signature check or auth-service call — but a credential that already verified (cached) still
   * gets through: one buggy client behind an ingress must not lock out the whole address.
   */
  function guard(scope: RequestScope): Principal | undefined {
    try {
      failedAuthGuard.check(scope.clientIp);
      return undefined;
    } catch (blocked) {
      for (const authenticator of authenticators) {
        const principal = authenticator.verified?.(scope);
        if (principal) return principal;
      }
      throw blocked;
    }
  }

  /**
   * `enforce: shadow`: the refusal is logged and counted, and the request goes on. A verified
   * principal keeps its identity headers (its scopes are what failed); anything else goes up
   * without the identity or tenant headers the client sent (upstream-headers drops them).
   */
  function shadowed(scope: RequestScope, route: CompiledRoute, thrown: unknown): void {
    const err = toAuthgateError(thrown);
    scope.decision = 'would_deny';
    scope.wouldDeny = err.reason;
    scope.addHeaders = [];
    scope.tenantId = undefined;
    if (scope.principal) {
      try {
        scope.addHeaders = authorize({
          principal: scope.principal,
          method: scope.method,
          rawHeaders: scope.rawHeaders,
          requiredScopes: [],
          tenantHeader: route.config.tenantHeader.toLowerCase(),
          internalCaller: scope.internal,
        });
        scope.tenantId = decideTenant(scope, route);
        identityHeaders(scope, route);
      } catch {
        // Its tenant is not one of the principal's: no identity header at all.
        scope.addHeaders = [];
        scope.tenantId = undefined;
      }
    }
    metrics?.shadowDenials.labels(route.name, err.reason).inc();
    metrics?.authDecision(route.name, authMethodOf(scope), 'allow', 'shadow');
    writeAudit(scope, route, 'would_deny', err.reason, err);
  }

  return async function authenticateAndAuthorize(req, scope, route) {
    const presented = scope.presented;
    const started = performance.now();
    try {
      await authenticate(req, scope, route, presented ? guard(scope) : undefined);
      const required = route.scopesFor(scope.method, routePath(route, scope.path ?? '/'));
      if (scope.principal) {
        scope.addHeaders = authorize({
          principal: scope.principal,
          method: scope.method,
          rawHeaders: scope.rawHeaders,
          requiredScopes: required,
          tenantHeader: route.config.tenantHeader.toLowerCase(),
          internalCaller: scope.internal,
        });
        scope.tenantId = decideTenant(scope, route);
        identityHeaders(scope, route);
      } else if (!scope.preflight) {
        // Anonymous on an optional route: a method nobody is granted stays closed too.
        if (required === METHOD_NOT_GRANTED) throw methodNotGrantedError(scope.method);
        // A tenant's path is never served anonymously.
        if (pathTenant(route, scope.path ?? '/') !== undefined)
          throw new AuthgateError('AUTH_REQUIRED', { reason: 'no_credentials' });
        refuseUnverifiedIdentity(scope, route);
        refuseClientIdentityHeaders(scope, route);
      }
    } catch (err) {
      scope.authMs = performance.now() - started;
      if (route.config.enforce === 'shadow') {
        shadowed(scope, route, err);
        return;
      }
      recordDecision(scope, route, err);
      if (presented && err instanceof AuthgateError && err.status === 401) {
        if (await failedAuthGuard.recordFailure(scope.clientIp)) {
          logger.warn('address blocked after failed authentications', {
            request_id: scope.requestId,
            client_ip: scope.clientIp,
            route: route.name,
          });
        }
      }
      if (err instanceof AuthgateError && err.reason === 'failed_auth_guard') {
        metrics?.rateLimited.labels(route.name, 'failed_auth').inc();
      }
      throw err;
    }
    scope.authMs = performance.now() - started;
    recordDecision(scope, route, undefined);
  };
}
