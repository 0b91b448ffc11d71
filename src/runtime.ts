/**
 * The one composition root (docs/design.md, "Composition"): everything a request needs besides
 * the listener — metrics, the authenticators and Redis, the rate limiter, the failed-auth
 * guard, the app with its chain — built the same way for `authgate serve` (server.ts) and the
 * library (embed.ts). What a caller injects is used as given (tests, embedders).
 */
import { createApp, type App, type AppDependencies } from './app';
import { createAuthLayer, type AuthLayer } from './auth';
import type { AuthObserver } from './auth/observer';
import { FailedAuthGuard } from './auth/failed-auth-guard';
import type { Config } from './config/schema';
import { Metrics } from './metrics';
import { RateLimiter } from './rate-limit';
import { IdentityAsserter, loadAssertionKey } from './identity/assertion';
import { systemClock } from './clock';
import { Tracing, withTraceFields } from './tracing/tracing';
import { authgateVersion } from './version';

/** How long startup (and a reload) waits for upstream names to be resolved. */
const UPSTREAM_DNS_WAIT_MS = 5000;

/** How long a shutdown waits for the last spans to be exported. */
const TRACE_FLUSH_MS = 2000;

export interface Runtime {
  readonly app: App;
  readonly metrics: Metrics;
  /** The auth layer built from config (absent when authenticators were injected). */
  readonly auth: AuthLayer | undefined;
  readonly rateLimiter: RateLimiter;
  /** OpenTelemetry tracing, when `tracing.otlpEndpoint` is set. */
  readonly tracing: Tracing | undefined;
  /** The identity assertion's signer, when `identityAssertion` is configured. */
  readonly asserter: IdentityAsserter | undefined;
  /** Stops timers, drops Redis connections and upstream pools. */
  close(): Promise<void>;
  /**
   * A reload replaced this runtime: its gauges stop reporting at once (the new runtime owns
   * them), and once its requests in flight are done, its pools, timers and Redis go.
   */
  retire(): Promise<void>;
}

export async function buildRuntime(
  config: Readonly<Config>,
  deps: AppDependencies,
): Promise<Runtime> {
  const metrics = deps.metrics ?? new Metrics(authgateVersion());
  const tracing =
    deps.tracing ??
    (config.tracing.otlpEndpoint
      ? new Tracing(config.tracing, { version: authgateVersion(), logger: deps.logger })
      : undefined);
  // Traced: every line written for a recorded request carries its trace and span ids.
  const logger = tracing ? withTraceFields(deps.logger) : deps.logger;
  // Reported through a switch: a runtime a reload retired must not move the gauges its
  // successor owns (its Redis connection closing is not "Redis down").
  let reporting = true;
  const observer = muted(deps.observer ?? metrics, () => reporting);
  const auth = deps.authenticators
    ? undefined
    : createAuthLayer(config, {
        logger,
        observer,
        clock: deps.clock,
      });
  await auth?.warmUp();
  const rateLimiter =
    deps.rateLimiter ?? new RateLimiter({ redis: auth?.redis, clock: deps.clock, logger });
  // Only rate-limited routes need to know how many processes share the limits.
  if (config.routes.some((r) => r.rateLimit !== undefined)) rateLimiter.start();
  const clock = deps.clock;
  const asserter = config.identityAssertion
    ? new IdentityAsserter(
        config.identityAssertion,
        loadAssertionKey(config.identityAssertion),
        deps.clock ?? systemClock,
      )
    : undefined;
  const app = createApp(config, {
    ...deps,
    logger,
    tracing,
    asserter,
    metrics,
    rateLimiter,
    failedAuthGuard:
      deps.failedAuthGuard ??
      new FailedAuthGuard(config.auth.failedAuthGuard, auth?.redis, clock && (() => clock.now())),
    authenticators: deps.authenticators ?? auth?.authenticators,
    signIn: deps.signIn ?? auth?.signIn,
  });
  // Upstream names resolved before the first request (a failed lookup keeps the name: the
  // request then resolves it itself), for at most UPSTREAM_DNS_WAIT_MS.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    app.ready(),
    new Promise((resolve) => (timer = setTimeout(resolve, UPSTREAM_DNS_WAIT_MS).unref())),
  ]);
  clearTimeout(timer);
  return {
    app,
    metrics,
    auth,
    rateLimiter,
    tracing,
    asserter,
    async retire() {
      reporting = false;
      await app.retire();
      rateLimiter.stop();
      await auth?.close();
    },
    async close() {
      app.close();
      rateLimiter.stop();
      await auth?.close();
      // The spans still queued are sent before the process goes — for at most 2 s: a collector
      // that is down never holds up a shutdown.
      if (tracing) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          tracing.shutdown().catch(() => undefined),
          new Promise((resolve) => (timer = setTimeout(resolve, TRACE_FLUSH_MS).unref())),
        ]);
        clearTimeout(timer);
      }
    },
  };
}

/**
 * `observer`, silent once `live()` turns false: a plain object of bound methods, built once
 * (an API-key lookup reports on every request).
 */
export function muted(observer: AuthObserver, live: () => boolean): AuthObserver {
  return {
    jwksRefresh: (issuer, result) => live() && observer.jwksRefresh(issuer, result),
    jwksUp: (issuer, up) => live() && observer.jwksUp(issuer, up),
    tokenValidation: (method, seconds) => live() && observer.tokenValidation(method, seconds),
    apiKeyCache: (layer, result) => live() && observer.apiKeyCache(layer, result),
    authServiceRequest: (result) => live() && observer.authServiceRequest(result),
    authServiceUp: (up) => live() && observer.authServiceUp(up),
    redisUp: (up) => live() && observer.redisUp(up),
    login: (result) => live() && observer.login(result),
    sessionRefresh: (result) => live() && observer.sessionRefresh(result),
    sessionsActive: (source) => live() && observer.sessionsActive(source),
  };
}
