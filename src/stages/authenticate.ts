/**
 * Stages "authenticate" and "authorise": the first responsible authenticator decides who the
 * caller is (Oathkeeper's pipeline/authn), then the route's scopes, tenant and identity-header
 * rules decide what it may do. One metric sample and one audit line per decision. The failed-
 * authentication guard runs before any signature check or auth-service call (issue 8.10).
 *
 * Used by the proxy chain and, on its own, by `gate.authenticate()` (DESIGN §9).
 */
import type { IncomingMessage } from 'node:http';
import { NOT_RESPONSIBLE, type Authenticator } from '../auth/authenticator';
import { authorize, methodNotGrantedError } from '../auth/authorize';
import { malformedCredentialError } from '../auth/credentials';
import type { FailedAuthGuard } from '../auth/failed-auth-guard';
import { AuthgateError, toAuthgateError } from '../errors';
import type { NetworkList } from '../headers/forwarded';
import type { Logger } from '../logging/logger';
import type { Metrics } from '../metrics';
import type { RequestScope } from '../request-scope';
import {
  METHOD_NOT_GRANTED,
  pathTenant,
  routePath,
  type CompiledRoute,
} from '../routes/route-table';

export interface AuthStageOptions {
  authenticators: readonly Authenticator[];
  failedAuthGuard: FailedAuthGuard;
  internalNetworks: NetworkList;
  logger: Logger;
  metrics?: Metrics;
}

export type AuthStage = (
  req: IncomingMessage,
  scope: RequestScope,
  route: CompiledRoute,
) => Promise<void>;

/** A CORS preflight carries no credentials by design (Fetch spec). */
export function isCorsPreflight(req: IncomingMessage): boolean {
  return (
    req.method === 'OPTIONS' &&
    req.headers.origin !== undefined &&
    req.headers['access-control-request-method'] !== undefined
  );
}

/** The value of the route's tenant header as sent (for logs and tenant rate limits). */
export function tenantOf(scope: RequestScope, route: CompiledRoute): string | undefined {
  const name = route.config.tenantHeader.toLowerCase();
  for (let i = 0; i < scope.rawHeaders.length; i += 2) {
    if ((scope.rawHeaders[i] as string).toLowerCase() === name) return scope.rawHeaders[i + 1];
  }
  return undefined;
}

/**
 * `tenantPathSegment`: the tenant the path names must be one of the principal's (like the tenant
 * header); the upstream gets it in the route's tenant header when the caller sent none.
 */
function checkPathTenant(scope: RequestScope, route: CompiledRoute): void {
  const tenant = pathTenant(route, scope.path ?? '/');
  if (tenant === undefined || !scope.principal) return;
  if (!scope.principal.tenantIds.includes(tenant)) {
    throw new AuthgateError('TENANT_FORBIDDEN', {
      reason: 'path_tenant_not_granted',
      details: { path_tenant: tenant },
    });
  }
  if (tenantOf(scope, route) === undefined)
    scope.addHeaders.push(route.config.tenantHeader, tenant);
}

function authMethodOf(scope: RequestScope): string {
  if (scope.principal) return scope.principal.authMethod;
  if (scope.credentials?.apiKey !== undefined) return 'api_key';
  if (scope.credentials?.bearer !== undefined) return 'jwt';
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
  const { authenticators, failedAuthGuard, internalNetworks, logger, metrics } = options;

  async function authenticate(
    req: IncomingMessage,
    scope: RequestScope,
    route: CompiledRoute,
  ): Promise<void> {
    if (route.config.auth === 'none') return;
    if (route.config.cors.preflight && isCorsPreflight(req)) return;
    if (scope.credentials?.malformed !== undefined) throw malformedCredentialError();
    for (const authenticator of authenticators) {
      const result = await authenticator.authenticate(req, scope);
      if (result !== NOT_RESPONSIBLE) {
        scope.principal = result;
        return;
      }
    }
    if (route.config.auth === 'required' && !internalServiceCall(scope, route)) {
      throw new AuthgateError('AUTH_REQUIRED', { reason: 'no_credentials' });
    }
  }

  /**
   * `upstreamAuth.mode: when-absent` (DESIGN §11): a caller in internalNetworks that sent no
   * credential is an internal hop; it goes upstream in authgate's name instead of being refused.
   */
  function internalServiceCall(scope: RequestScope, route: CompiledRoute): boolean {
    return (
      route.config.upstreamAuth.mode === 'when-absent' &&
      scope.principal === undefined &&
      scope.credentials?.bearer === undefined &&
      scope.credentials?.apiKey === undefined &&
      scope.credentials?.malformed === undefined &&
      internalNetworks.has(scope.peerIp)
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
    scope.tenantId = tenantOf(scope, route) ?? pathTenant(route, scope.path ?? '/');
    metrics?.authDecision(route.name, authMethod, result, reason);
    logger.info('auth decision', {
      type: 'audit',
      request_id: scope.requestId,
      route: route.name,
      method: scope.method,
      path: scope.path,
      decision: result,
      reason,
      error_code: err?.code,
      auth_method: authMethod,
      user_id: scope.principal?.userId,
      issuer: scope.principal?.issuer,
      tenant_id: scope.tenantId,
      client_ip: scope.clientIp,
      ...err?.details,
    });
  }

  return async function authenticateAndAuthorize(req, scope, route) {
    const credentials = scope.credentials;
    const presented =
      credentials !== undefined &&
      (credentials.bearer !== undefined ||
        credentials.apiKey !== undefined ||
        credentials.malformed !== undefined);
    try {
      if (presented) failedAuthGuard.check(scope.clientIp);
      await authenticate(req, scope, route);
      const required = route.scopesFor(scope.method, routePath(route, scope.path ?? '/'));
      if (scope.principal) {
        scope.addHeaders = authorize({
          principal: scope.principal,
          method: scope.method,
          rawHeaders: scope.rawHeaders,
          requiredScopes: required,
          tenantHeader: route.config.tenantHeader.toLowerCase(),
          internalCaller: internalNetworks.has(scope.peerIp),
        });
        checkPathTenant(scope, route);
      } else if (
        required === METHOD_NOT_GRANTED &&
        !(route.config.cors.preflight && isCorsPreflight(req))
      ) {
        // Anonymous on an optional route: a method nobody is granted stays closed too.
        throw methodNotGrantedError(scope.method);
      } else if (pathTenant(route, scope.path ?? '/') !== undefined) {
        // A tenant's path is never served anonymously.
        throw new AuthgateError('AUTH_REQUIRED', { reason: 'no_credentials' });
      }
    } catch (err) {
      recordDecision(scope, route, err);
      if (presented && err instanceof AuthgateError && err.status === 401) {
        await failedAuthGuard.recordFailure(scope.clientIp);
      }
      if (err instanceof AuthgateError && err.reason === 'failed_auth_guard') {
        metrics?.rateLimited.labels(route.name, 'failed_auth').inc();
      }
      throw err;
    }
    recordDecision(scope, route, undefined);
  };
}
