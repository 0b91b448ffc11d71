/**
 * Prometheus metrics (docs/design.md#metrics): fixed names and labels, bounded cardinality — routes are
 * configured names (`none` when unmatched), methods a fixed set, reasons stable codes.
 * Never a path, a user, a tenant or a credential.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { LocalHistogram, type HistogramSeries } from './local-histogram';
import type { AuthObserver } from './auth/observer';
import type { Principal } from './request-scope';
import { HTTP_METHODS } from './config/schema';

const KNOWN_METHODS: ReadonlySet<string> = new Set(HTTP_METHODS);

/** Any method outside the standard set is counted as OTHER (clients can send anything). */
export function methodLabel(method: string): string {
  return KNOWN_METHODS.has(method) ? method : 'OTHER';
}

/** Sub-millisecond auth checks through multi-minute artifact uploads. */
export const REQUEST_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
  600,
];
export const AUTH_BUCKETS = [
  0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
  0.05, 0.1, 0.25, 0.5, 1, 2.5,
];

/**
 * Counts on the request path as plain numbers, handed to their prom-client counter at scrape
 * time (prom-client hashes the label set on every inc(), bound child or not).
 */
class PendingCounts<L extends string> {
  private readonly pending = new Map<string, { labels: Record<L, string>; n: number }>();

  add(key: string, labels: () => Record<L, string>): void {
    const entry = this.pending.get(key);
    if (entry) entry.n++;
    else this.pending.set(key, { labels: labels(), n: 1 });
  }

  /** Adds what was counted since the last scrape to the counter. */
  flushInto(counter: Counter<L>): void {
    for (const entry of this.pending.values()) {
      if (entry.n === 0) continue;
      counter.inc(entry.labels, entry.n);
      entry.n = 0;
    }
  }
}

export class Metrics implements AuthObserver {
  readonly registry = new Registry();
  private readonly pendingRequests = new PendingCounts<'route' | 'method' | 'status'>();
  readonly httpRequests: Counter<'route' | 'method' | 'status'> = new Counter({
    name: 'authgate_http_requests_total',
    help: 'Requests answered, by route name, method and status.',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
    collect: (): void => this.pendingRequests.flushInto(this.httpRequests),
  });
  readonly httpDuration = new LocalHistogram({
    name: 'authgate_http_request_duration_seconds',
    help: 'Time from request to the end of the response.',
    labelNames: ['route', 'method'] as const,
    buckets: REQUEST_BUCKETS,
    registers: [this.registry],
  });
  /** Requests in flight: a plain number on the request path, read into the gauge at scrape. */
  private inFlightNow = 0;
  readonly inFlight: Gauge = new Gauge({
    name: 'authgate_http_requests_in_flight',
    help: 'Requests being handled now.',
    registers: [this.registry],
    collect: (): void => this.inFlight.set(this.inFlightNow),
  });
  private readonly pendingDecisions = new PendingCounts<
    'route' | 'auth_method' | 'result' | 'reason'
  >();
  readonly authDecisions: Counter<'route' | 'auth_method' | 'result' | 'reason'> = new Counter({
    name: 'authgate_auth_decisions_total',
    help: 'Authentication and authorisation decisions, with a stable reason.',
    labelNames: ['route', 'auth_method', 'result', 'reason'] as const,
    registers: [this.registry],
    collect: (): void => this.pendingDecisions.flushInto(this.authDecisions),
  });
  readonly tokenValidationDuration = new LocalHistogram({
    name: 'authgate_token_validation_duration_seconds',
    help: 'Credential validation time outside the in-process cache.',
    labelNames: ['auth_method'] as const,
    buckets: AUTH_BUCKETS,
    registers: [this.registry],
  });
  readonly upstreamErrors = new Counter({
    name: 'authgate_upstream_errors_total',
    help: 'Upstream failures by kind (connect_refused, response_timeout, reset, ...).',
    labelNames: ['route', 'kind'] as const,
    registers: [this.registry],
  });
  readonly shadowDenials = new Counter({
    name: 'authgate_shadow_denials_total',
    help: 'Requests a route with enforce: shadow let through that its checks would have refused, by reason.',
    labelNames: ['route', 'reason'] as const,
    registers: [this.registry],
  });
  readonly configReloads = new Counter({
    name: 'authgate_config_reloads_total',
    help: 'Config reloads (SIGHUP or server.watchConfig), by result: success, or failure (the running config stays).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly configInfo = new Gauge({
    name: 'authgate_config_info',
    help: 'Always 1: the hash (sha256, first 12 hex) of the config in force.',
    labelNames: ['hash'] as const,
    aggregator: 'max',
    registers: [this.registry],
  });

  /** The config in force is now the one with this hash. */
  configInForce(hash: string): void {
    this.configInfo.reset();
    this.configInfo.labels(hash).set(1);
  }

  readonly upstreamLeftOut = new Counter({
    name: 'authgate_upstream_addresses_left_out_total',
    help: 'Times an upstream address refused connections and was left out for a while.',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });
  readonly proxyErrors = new Counter({
    name: 'authgate_errors_total',
    help: 'Errors authgate answered itself (not relayed from the upstream), by route and error code.',
    labelNames: ['route', 'code', 'status'] as const,
    registers: [this.registry],
  });
  readonly upstreamAuthErrors = new Counter({
    name: 'authgate_upstream_auth_errors_total',
    help: 'Upstream 401/403 answers.',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  });
  readonly authServiceUpGauge = new Gauge({
    name: 'authgate_auth_service_up',
    help: '1 when the API-key service answered the last lookup (circuit closed).',
    // With `--workers N` the primary serves the aggregate: up only when every worker is.
    aggregator: 'min',
    registers: [this.registry],
  });
  readonly authServiceRequests = new Counter({
    name: 'authgate_auth_service_requests_total',
    help: 'Calls to the API-key service by outcome.',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  /** One lookup per API-key request: counted as plain numbers, like the request counts. */
  private readonly pendingCacheLookups = new PendingCounts<'layer' | 'result'>();
  readonly apiKeyCacheLookups: Counter<'layer' | 'result'> = new Counter({
    name: 'authgate_api_key_cache_total',
    help: 'API-key cache lookups by layer and result.',
    labelNames: ['layer', 'result'] as const,
    registers: [this.registry],
    collect: (): void => this.pendingCacheLookups.flushInto(this.apiKeyCacheLookups),
  });
  readonly jwksRefreshes = new Counter({
    name: 'authgate_jwks_refresh_total',
    help: 'JWKS fetches by issuer and result.',
    labelNames: ['issuer', 'result'] as const,
    registers: [this.registry],
  });
  readonly jwksUpGauge = new Gauge({
    name: 'authgate_jwks_up',
    help: "1 when the issuer's JWKS endpoint answered the latest fetch (refreshed every jwksMaxAgeSec), else 0.",
    labelNames: ['issuer'] as const,
    // With `--workers N` the primary serves the aggregate: up only when every worker is.
    aggregator: 'min',
    registers: [this.registry],
  });
  readonly rateLimited = new Counter({
    name: 'authgate_rate_limited_total',
    help: 'Requests refused by a route rate limit.',
    labelNames: ['route', 'by'] as const,
    registers: [this.registry],
  });
  readonly redisUpGauge = new Gauge({
    name: 'authgate_redis_up',
    help: '1 while the Redis connection is ready (absent Redis: 0).',
    // With `--workers N` the primary serves the aggregate: up only when every worker is.
    aggregator: 'min',
    registers: [this.registry],
  });
  readonly logins = new Counter({
    name: 'authgate_logins_total',
    help: 'Browser sign-ins completed at the callback, by result (success, failed, error: the provider or the session store unavailable).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly sessionRefreshes = new Counter({
    name: 'authgate_session_refreshes_total',
    help: "Refreshes of a browser session's access token, by result (failed ends the session).",
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  private sessionsSource?: () => Promise<number>;
  readonly sessionsActiveGauge: Gauge = new Gauge({
    name: 'authgate_sessions_active',
    help: 'Browser sessions not yet expired (in Redis: every instance counts the same sessions).',
    // Shared sessions are counted once, not once per worker.
    aggregator: 'max',
    registers: [this.registry],
    collect: async (): Promise<void> => {
      if (!this.sessionsSource) return;
      try {
        this.sessionsActiveGauge.set(await this.sessionsSource());
      } catch {
        // The store is unreachable: the last count stays (authgate_redis_up says why).
      }
    },
  });
  readonly buildInfo = new Gauge({
    name: 'authgate_build_info',
    help: 'authgate version and Node.js version.',
    labelNames: ['version', 'node_version'] as const,
    aggregator: 'first',
    registers: [this.registry],
  });

  /** Histogram series bound once per (route, method). */
  private readonly durationChildren = new Map<string, HistogramSeries<'route' | 'method'>>();

  requestStarted(): void {
    this.inFlightNow++;
  }

  requestFinished(): void {
    this.inFlightNow--;
  }

  authDecision(route: string, authMethod: string, result: string, reason: string): void {
    this.pendingDecisions.add(`${route}\u0000${authMethod}\u0000${result}\u0000${reason}`, () => ({
      route,
      auth_method: authMethod,
      result,
      reason,
    }));
  }

  observeRequest(route: string, method: string, status: number, seconds: number): void {
    this.pendingRequests.add(`${route}\u0000${method}\u0000${status}`, () => ({
      route,
      method,
      status: String(status),
    }));
    const key = `${route}\u0000${method}`;
    let duration = this.durationChildren.get(key);
    if (!duration) {
      duration = this.httpDuration.bind({ route, method });
      this.durationChildren.set(key, duration);
    }
    duration.observe(seconds);
  }

  constructor(version: string) {
    collectDefaultMetrics({ register: this.registry });
    this.buildInfo.labels(version, process.version).set(1);
    this.authServiceUpGauge.set(1);
    this.redisUpGauge.set(0);
  }

  // AuthObserver
  jwksRefresh(issuer: string, result: 'success' | 'failure'): void {
    this.jwksRefreshes.labels(issuer, result).inc();
  }

  jwksUp(issuer: string, up: boolean): void {
    this.jwksUpGauge.labels(issuer).set(up ? 1 : 0);
  }
  tokenValidation(authMethod: Principal['authMethod'], seconds: number): void {
    this.tokenValidationDuration.bind({ auth_method: authMethod }).observe(seconds);
  }
  apiKeyCache(layer: 'memory' | 'redis', result: 'hit' | 'miss' | 'negative_hit' | 'error'): void {
    this.pendingCacheLookups.add(`${layer}\u0000${result}`, () => ({ layer, result }));
  }
  authServiceRequest(result: 'valid' | 'invalid' | 'error' | 'timeout' | 'circuit_open'): void {
    this.authServiceRequests.labels(result).inc();
  }
  authServiceUp(up: boolean): void {
    this.authServiceUpGauge.set(up ? 1 : 0);
  }
  redisUp(up: boolean): void {
    this.redisUpGauge.set(up ? 1 : 0);
  }
  login(result: 'success' | 'failed' | 'error'): void {
    this.logins.labels(result).inc();
  }
  sessionRefresh(result: 'success' | 'failed' | 'error'): void {
    this.sessionRefreshes.labels(result).inc();
  }
  sessionsActive(source: () => Promise<number>): void {
    this.sessionsSource = source;
  }

  /** Serves the scrape; with a bearer token configured, anything else is 401. */
  async serve(
    req: IncomingMessage,
    res: ServerResponse,
    bearerToken: string | undefined,
  ): Promise<void> {
    await serveScrape(req, res, bearerToken, async () => ({
      body: await this.registry.metrics(),
      contentType: this.registry.contentType,
    }));
  }
}

/** Answers one scrape: the bearer token checked in constant time, then the exposition. */
export async function serveScrape(
  req: IncomingMessage,
  res: ServerResponse,
  bearerToken: string | undefined,
  exposition: () => Promise<{ body: string; contentType: string }>,
): Promise<void> {
  if (bearerToken !== undefined) {
    const given = Buffer.from(req.headers.authorization ?? '');
    const expected = Buffer.from(`Bearer ${bearerToken}`);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      res.writeHead(401, {
        'Content-Type': 'text/plain',
        'WWW-Authenticate': 'Bearer realm="authgate-metrics"',
      });
      res.end('unauthorized\n');
      return;
    }
  }
  try {
    const { body, contentType } = await exposition();
    res.writeHead(200, { 'Content-Type': contentType, 'Cache-Control': 'no-store' });
    res.end(body);
  } catch {
    res.writeHead(503, { 'Content-Type': 'text/plain' }).end('metrics unavailable\n');
  }
}
