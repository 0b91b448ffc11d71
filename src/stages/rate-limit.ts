/**
 * Stage "rate limit": the route's GCRA limit per principal, tenant or client
 * address; a refusal is 429 RATE_LIMITED, every decision adds the RateLimit fields to the answer.
 */
import type { Logger } from '../logging/logger';
import type { Metrics } from '../metrics';
import { rateLimitHeaders, rateLimitRule, rateLimitedError, type RateLimiter } from '../rate-limit';
import type { RequestScope } from '../request-scope';
import type { CompiledRoute } from '../routes/route-table';

export type RateLimitStage = (scope: RequestScope, route: CompiledRoute) => Promise<void>;

export function createRateLimitStage(
  rateLimiter: RateLimiter,
  metrics?: Metrics,
  logger?: Logger,
): RateLimitStage {
  return async (scope, route) => {
    const limit = route.config.rateLimit;
    if (!limit) return;
    const subject =
      limit.by === 'principal'
        ? scope.principal?.userId
        : limit.by === 'tenant'
          ? scope.tenantId // decided and verified by the authorise stage; never a header as sent
          : scope.clientIp;
    // Without a principal or a verified tenant, the caller's address is the only fair key.
    const decision = await rateLimiter.hit(
      rateLimitRule(route.name, limit),
      limit.by,
      subject ?? `ip:${scope.clientIp}`,
    );
    if (!decision.allowed) {
      if (route.config.enforce === 'shadow') {
        // Counted and logged; the request goes on (and its RateLimit fields say 0 remaining).
        scope.wouldDeny ??= 'rate_limited';
        metrics?.shadowDenials.labels(route.name, 'rate_limited').inc();
        logger?.warn('rate limit', {
          type: 'audit',
          request_id: scope.requestId,
          route: route.name,
          decision: 'would_deny',
          reason: 'rate_limited',
          by: limit.by,
          client_ip: scope.clientIp,
        });
      } else {
        metrics?.rateLimited.labels(route.name, limit.by).inc();
        throw rateLimitedError(decision, route.name);
      }
    }
    scope.responseHeaders.push(...rateLimitHeaders(route.name, decision));
  };
}
