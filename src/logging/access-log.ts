/**
 * One access-log line per request. Only fields authgate derives itself are logged: the
 * normalised path without its query string, never headers or query values.
 */
import { routeLabel, type RequestScope } from '../request-scope';
import type { Logger } from './logger';

/** nginx's "client closed request" for exchanges cut before a response was sent. */
export const CLIENT_CLOSED = 499;

export interface Outcome {
  status: number;
  /** The exchange was cut (client gone, or upstream broke off mid-body). */
  aborted?: boolean;
  /** `request` for HTTP exchanges, `upgrade` for WebSocket upgrades. */
  message?: 'request' | 'upgrade';
}

export function logAccess(logger: Logger, scope: RequestScope, outcome: Outcome): void {
  logger.info(outcome.message ?? 'request', {
    type: 'access',
    request_id: scope.requestId,
    route: routeLabel(scope),
    method: scope.method,
    path: scope.path ?? null,
    status: outcome.status,
    duration_ms: Math.round((performance.now() - scope.startedAt) * 1000) / 1000,
    bytes_in: scope.bytesIn,
    bytes_out: scope.bytesOut,
    aborted: outcome.aborted || undefined,
    error_code: scope.errorCode,
    reason: scope.errorReason,
    upstream_status: scope.upstreamStatus,
    upstream_ms:
      scope.upstreamMs === undefined ? undefined : Math.round(scope.upstreamMs * 1000) / 1000,
    client_ip: scope.clientIp,
    auth_method: scope.principal?.authMethod,
    user_id: scope.principal?.userId,
    tenant_id: scope.tenantId,
    trace_id: scope.trace?.traceId,
    span_id: scope.trace?.spanId,
  });
}
