/**
 * One access-log line per request. Only fields authgate derives itself are logged: the
 * normalised path without its query string, never headers or query values.
 */
import type { ServerResponse } from 'node:http';
import { routeLabel, type RequestScope } from '../request-scope';
import type { Logger } from './logger';

/** nginx's "client closed request" for exchanges cut before a response was sent. */
export const CLIENT_CLOSED = 499;

export function responseStatus(scope: RequestScope, res: ServerResponse): number {
  return res.headersSent ? res.statusCode : CLIENT_CLOSED;
}

export function logAccess(logger: Logger, scope: RequestScope, res: ServerResponse): void {
  const status = responseStatus(scope, res);
  logger.info('request', {
    type: 'access',
    request_id: scope.requestId,
    route: routeLabel(scope),
    method: scope.method,
    path: scope.path ?? null,
    status,
    duration_ms: Math.round((performance.now() - scope.startedAt) * 1000) / 1000,
    bytes_in: scope.bytesIn,
    bytes_out: scope.bytesOut,
    aborted: scope.aborted || !res.writableFinished || undefined,
    error_code: scope.errorCode,
    reason: scope.errorReason,
    upstream_status: scope.upstreamStatus,
    upstream_ms:
      scope.upstreamMs === undefined ? undefined : Math.round(scope.upstreamMs * 1000) / 1000,
    client_ip: scope.clientIp,
    auth_method: scope.principal?.authMethod,
    user_id: scope.principal?.userId,
    tenant_id: scope.tenantId,
  });
}
