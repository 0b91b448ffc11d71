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

/** `logging.accessLog`: every exchange, only those answered with an error (≥ 400, or cut), none. */
export type AccessLogMode = 'all' | 'errors' | 'none';

/**
 * The level of an access line: `error` for answers ≥ 500, `warn` for a 4xx authgate answered
 * itself (a refusal, a bad request), `info` for the rest — a 4xx the upstream answered too.
 */
export function accessLevel(scope: RequestScope, status: number): 'error' | 'warn' | 'info' {
  if (status >= 500 && status !== CLIENT_CLOSED) return 'error';
  if (status >= 400 && scope.errorCode !== undefined && scope.upstreamStatus === undefined)
    return 'warn';
  return 'info';
}

export function logAccess(
  logger: Logger,
  scope: RequestScope,
  outcome: Outcome,
  mode: AccessLogMode = 'all',
): void {
  if (mode === 'none') return;
  if (mode === 'errors' && outcome.status < 400 && !outcome.aborted) return;
  logger[accessLevel(scope, outcome.status)](outcome.message ?? 'request', {
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
    would_deny: scope.wouldDeny,
    // The auth decision rides on the access line too: with `logging.auditLog: denials` an
    // allowed request is one line, and every decision is still logged.
    decision: scope.decision,
    upstream_status: scope.upstreamStatus,
    upstream_ms:
      scope.upstreamMs === undefined ? undefined : Math.round(scope.upstreamMs * 1000) / 1000,
    client_ip: scope.clientIp,
    auth_method: scope.principal?.authMethod,
    user_id: scope.principal?.userId,
    key_id: scope.principal?.keyId,
    tenant_id: scope.tenantId,
    trace_id: scope.trace?.traceId,
    span_id: scope.trace?.spanId,
  });
}
