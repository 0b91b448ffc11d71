/**
 * The request chain, in order, in one place (docs/design.md; each stage is its own module in
 * src/stages/):
 *
 *   request id → health → drain → path → header hygiene → credentials → route → method →
 *   authenticate → authorise → rate limit → forward (upstream headers, [upstream credential:
 *   authgate's own, with a registry token exchange], transport, relay) → upstream 401/403 mapping
 *
 * Each stage either moves the typed RequestScope on or throws a typed error; `failure` turns
 * whatever was thrown into one typed error, one metric and one log line, for HTTP requests and
 * WebSocket upgrades alike. WebSocket upgrades run the same stages up to the rate limit.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Authenticator } from './auth/authenticator';
import { FailedAuthGuard } from './auth/failed-auth-guard';
import { DEFAULT_ASSERTION_HEADER, authenticatorHeaders, configHeaderGuard } from './auth/registry';
import type { IdentityAsserter } from './identity/assertion';
import type { AuthObserver } from './auth/observer';
import type { BrowserSignIn } from './auth/oidc/sign-in';
import { systemClock, type Clock } from './clock';
import type { Config } from './config/schema';
import { sendError, sendErrorOnSocket } from './error-response';
import { AuthgateError, toAuthgateError } from './errors';
import { NetworkList } from './headers/forwarded';
import { hasBody } from './headers/framing';
import { extendHeaderGuard } from './headers/guarded';
import type { RawHeaders } from './headers/hop-by-hop';
import { Lifecycle } from './lifecycle';
import { CLIENT_CLOSED, logAccess } from './logging/access-log';
import type { Logger } from './logging/logger';
import { createScrubber } from './logging/mask';
import { methodLabel, type Metrics } from './metrics';
import { normalizeRequestTarget } from './paths/normalize-path';
import { UpstreamPools, UpstreamTls } from './proxy/agents';
import { UpstreamSet, createResolve, type Resolve } from './proxy/balancer';
import { UploadSlots } from './proxy/upload-slots';
import { ForwardFailure, continueOnce, forward, type UpstreamReply } from './proxy/forward';
import type { StreamMemoryGuard } from './proxy/memory-guard';
import { isWebSocketUpgrade, proxyUpgrade } from './proxy/upgrade';
import { UPSTREAM_AUTH_STATUSES, upstreamAuthError } from './proxy/upstream-auth';
import { RateLimiter } from './rate-limit';
import {
  createRequestScope,
  isCorsPreflight,
  routeLabel,
  type RequestScope,
} from './request-scope';
import { RouteTable, upstreamPath, type CompiledRoute } from './routes/route-table';
import { createAuthStage } from './stages/authenticate';
import { healthTarget, sendHealth } from './stages/health';
import { createHygieneStage } from './stages/hygiene';
import { createRateLimitStage } from './stages/rate-limit';
import { createUpstreamHeaders } from './stages/upstream-headers';
import { createUpstreamCredentialStage, type SendOptions } from './stages/upstream-credential';
import { SpanStatusCode } from '@opentelemetry/api';
import { SpanKind, traceparentOf, withSpan, type Tracing } from './tracing/tracing';

/** One stage of the chain: reads and writes the request's scope, or throws a typed error. */
type Stage = (req: IncomingMessage, scope: RequestScope) => void | Promise<void>;

export interface AppDependencies {
  logger: Logger;
  /** In-process when absent. */
  rateLimiter?: RateLimiter;
  metrics?: Metrics;
  /** Built from config by startServer when absent. */
  authenticators?: readonly Authenticator[];
  observer?: AuthObserver;
  /** In-process when absent. */
  failedAuthGuard?: FailedAuthGuard;
  /** Resolves upstream host names (else the system resolver or `server.dns.servers`). */
  resolve?: Resolve;
  /** The one clock (system clock when absent); tests pass a manual one. */
  clock?: Clock;
  /**
   * Bounds the memory streamed bodies leave behind by forcing minor GCs (process-wide V8
   * state): the server turns it on; embedders opt in.
   */
  memoryGuard?: StreamMemoryGuard;
  /** Where the `env` upstream-credential provider reads (process.env when absent). */
  env?: NodeJS.ProcessEnv;
  /** Browser sign-in (`auth.oidc`): its callback and logout paths, and sign-in redirects. */
  signIn?: BrowserSignIn;
  /** OpenTelemetry tracing (`tracing.otlpEndpoint`), when configured. */
  tracing?: Tracing;
  /** Signs identity assertions (`identityAssertion`), when configured. */
  asserter?: IdentityAsserter;
}

export interface App {
  handleRequest(req: IncomingMessage, res: ServerResponse): void;
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** CONNECT: authgate is no forward proxy; answered 405 on the socket. */
  handleConnect(req: IncomingMessage, socket: Duplex): void;
  /** Would a request for this target be served by a configured route (or a health path)? */
  claims(url: string): boolean;
  /**
   * The chain up to the rate limit for a route the embedder gives (`gate.authenticate()`):
   * the same stages, header guard and decisions as a proxied request. Resolves with the
   * request's scope, or rejects with the typed error to answer.
   */
  admitFor(req: IncomingMessage, scope: RequestScope, route: CompiledRoute): Promise<void>;
  /** Adds a route's decided-on headers (its tenant header) to the one header guard. */
  guardRoute(route: CompiledRoute): void;
  /**
   * Readiness goes 503 (docs/design.md#health-and-shutdown); every request is still served (each closing its
   * connection), so the load balancer can deregister this instance without a refusal.
   */
  startDraining(): void;
  /** The listener is closing. */
  startClosing(): void;
  /** Past the grace period: requests still arriving get 503 SHUTTING_DOWN. */
  stop(): void;
  readonly draining: boolean;
  inFlight(): number;
  /** Resolves once no request is in flight. */
  idle(): Promise<void>;
  /** Settles once every route's upstream names were first resolved (serve waits for it). */
  ready(): Promise<void>;
  close(): void;
  /**
   * A reload replaced this app: once its requests in flight are done, its upstream pools and
   * timers go. WebSocket tunnels it opened are left to end by themselves.
   */
  retire(): Promise<void>;
}

/**
 * TRACE (and IIS's TRACK; Node's parser accepts methods in upper case only) echo the request — its Authorization, cookies, and where authgate
 * lends its credential, authgate's own — back to whoever sent it (cross-site tracing). No
 * route of an authenticating proxy needs it: refused everywhere with 405.
 */
const REFUSED_METHODS: ReadonlySet<string> = new Set(['TRACE', 'TRACK']);
const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';

function refuseMethod(method: string): void {
  if (REFUSED_METHODS.has(method)) {
    throw new AuthgateError('METHOD_NOT_ALLOWED', {
      message: `${method} is not supported: it would echo the request's credentials.`,
      reason: 'trace_refused',
      headers: { Allow: ALLOWED_METHODS },
    });
  }
}

/** The request headers without body framing (a preflight goes up with no body). */
function withoutBodyFraming(headers: RawHeaders): RawHeaders {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const lower = (headers[i] as string).toLowerCase();
    if (lower === 'content-length' || lower === 'transfer-encoding') continue;
    out.push(headers[i] as string, headers[i + 1] as string);
  }
  return out;
}

const RESPONSE_DROP: ReadonlySet<string> = new Set(['x-request-id']);
/** On a rate-limited route authgate's RateLimit fields replace the upstream's. */
const RESPONSE_DROP_LIMITED: ReadonlySet<string> = new Set([
  'x-request-id',
  'ratelimit',
  'ratelimit-policy',
]);

export function createApp(config: Readonly<Config>, deps: AppDependencies): App {
  const { logger, metrics } = deps;
  const lifecycle = new Lifecycle();
  const trustedProxies = new NetworkList(config.server.trustedProxies);
  const routes = new RouteTable(config.routes);
  const pools = new UpstreamPools(config.proxy);
  // Each route's upstream TLS material, read at start and again when the files change.
  const upstreamTls = new Map(
    config.routes.flatMap((r) =>
      r.upstreamTls
        ? [
            [
              r.name,
              new UpstreamTls(r.name, r.upstreamTls, {
                clock: deps.clock ?? systemClock,
                logger,
                intervalMs: r.upstreamTls.reloadIntervalMs,
              }),
            ] as const,
          ]
        : [],
    ),
  );
  // Each route's addresses: round-robin, refusing ones left out for a while (proxy/balancer.ts).
  const resolve = deps.resolve ?? createResolve(config.server.dns.servers);
  const upstreamSets = new Map(
    routes.routes.map((route) => {
      const tls = upstreamTls.get(route.name);
      const connectMs = route.config.timeouts.connectMs;
      return [
        route.name,
        new UpstreamSet({
          route: route.name,
          upstreams: route.upstreams,
          dispatcherFor: (upstream, address) => pools.poolFor(upstream, connectMs, tls, address),
          release: (upstream, address) => pools.release(upstream, connectMs, tls?.name, address),
          clock: deps.clock ?? systemClock,
          resolve,
          refreshMs: config.server.dns.refreshSec * 1000,
          logger,
          onLeftOut: (name) => metrics?.upstreamLeftOut.labels(name).inc(),
        }),
      ] as const;
    }),
  );
  const uploads = new UploadSlots(
    config.proxy.maxUploadsPerClient ??
      Math.max(1, Math.floor(config.proxy.maxSocketsPerUpstream / 2)),
  );
  const scrub = createScrubber(config.auth.apiKeys?.prefixes, config.logging.maskQueryParams);
  const replaceUpstreamAuth = (reply: UpstreamReply) => upstreamAuthError(reply, scrub);
  const paths = {
    healthPath: config.server.healthPath,
    readyPath: config.server.readyPath,
    // With metrics.port 0 the scrape is served on the main listener.
    metricsPath: config.metrics.port === 0 ? config.metrics.path : undefined,
  };

  // One guard for every header any route, authenticator or embedded call decides on.
  const guard = configHeaderGuard(config);
  const hygiene = createHygieneStage(config, trustedProxies, logger, guard);
  const authenticateAndAuthorize = createAuthStage({
    auditLog: config.logging.auditLog,
    authenticators: deps.authenticators ?? [],
    failedAuthGuard:
      deps.failedAuthGuard ?? new FailedAuthGuard(config.auth.failedAuthGuard, undefined),
    logger,
    metrics,
    signIn: deps.signIn,
  });
  const rateLimit = createRateLimitStage(deps.rateLimiter ?? new RateLimiter(), metrics, logger);
  const upstreamHeaders = createUpstreamHeaders(hygiene.guard, {
    sessionCookie: deps.signIn ? config.auth.oidc?.session.cookieName : undefined,
    assertionHeader: config.identityAssertion?.header ?? DEFAULT_ASSERTION_HEADER,
    asserter: deps.asserter,
    // What any configured authenticator takes a credential from (its registration says).
    credentialHeaders: [...new Set(['authorization', ...authenticatorHeaders(config)])],
  });
  const asAuthgate = createUpstreamCredentialStage(config, routes.routes, {
    clock: deps.clock ?? systemClock,
    logger,
    env: deps.env ?? process.env,
    replaceUpstreamAuth,
  });

  /**
   * The stages before forwarding, in order, as one list: each reads the scope the ones before
   * it wrote, and writes only its own facts (docs/design.md, "The chain"). Plain requests,
   * WebSocket upgrades and the embedded `authenticate()` (whose route is given, not selected)
   * run exactly these.
   */
  const admission: readonly Stage[] = [
    function notStopped() {
      if (lifecycle.past('stopped'))
        throw new AuthgateError('SHUTTING_DOWN', { reason: 'stopped' });
    },
    hygiene,
    function selectRoute(req, scope) {
      scope.route ??= routes.match(scope.path ?? '/');
      scope.preflight = scope.route.config.cors.preflight && isCorsPreflight(req);
    },
    function allowedMethod(req, scope) {
      refuseMethod(scope.method);
      if (scope.upgrade && !(scope.route!.config.ws && isWebSocketUpgrade(req))) {
        throw new AuthgateError('BAD_REQUEST', {
          message: 'Protocol upgrades are not allowed on this route.',
          reason: 'upgrade_refused',
        });
      }
    },
    function authenticate(req, scope) {
      const route = scope.route!;
      if (route.config.auth === 'none') return;
      if (!scope.trace) return authenticateAndAuthorize(req, scope, route);
      return tracedAuthentication(req, scope, route);
    },
    (_req, scope) => rateLimit(scope, scope.route!),
  ];

  /** The auth stage in its own span: a denial is its outcome, not a span error. */
  async function tracedAuthentication(
    req: IncomingMessage,
    scope: RequestScope,
    route: CompiledRoute,
  ): Promise<void> {
    const refused = await withSpan('authenticate', SpanKind.INTERNAL, {}, async (span) => {
      let thrown: unknown;
      try {
        await authenticateAndAuthorize(req, scope, route);
      } catch (err) {
        thrown = err;
      }
      const err = thrown === undefined ? undefined : toAuthgateError(thrown);
      span?.setAttributes({
        'authgate.auth_method': scope.principal?.authMethod ?? 'none',
        'authgate.decision': scope.decision ?? 'allow',
        ...(err ? { 'authgate.error_code': err.code, 'authgate.reason': err.reason } : {}),
      });
      if (err && err.status >= 500)
        span?.setStatus({ code: SpanStatusCode.ERROR, message: err.code });
      return thrown === undefined ? undefined : { thrown };
    });
    if (refused) throw refused.thrown;
  }

  async function admit(req: IncomingMessage, scope: RequestScope): Promise<CompiledRoute> {
    for (const stage of admission) {
      const pending = stage(req, scope);
      if (pending) await pending;
    }
    return scope.route!;
  }

  async function run(req: IncomingMessage, res: ServerResponse, scope: RequestScope) {
    const route = await admit(req, scope);
    let headers = upstreamHeaders(req, scope, route, false);
    let withBody = scope.framing !== undefined && hasBody(scope.framing);
    if (scope.preflight && withBody) {
      // A preflight has no body (Fetch spec); one sent anyway is not passed on.
      headers = withoutBodyFraming(headers);
      withBody = false;
    }
    if (!withBody) return upstream(req, res, scope, route, headers, false);
    // A streamed body holds a pooled connection for as long as the client takes to send it.
    const release = uploads.take(route.upstream.origin, scope.clientIp);
    try {
      return await upstream(req, res, scope, route, headers, true);
    } finally {
      release();
    }
  }

  /** To the upstream: in the caller's name, or where the route lends it, in authgate's. */
  function upstream(
    req: IncomingMessage,
    res: ServerResponse,
    scope: RequestScope,
    route: CompiledRoute,
    headers: RawHeaders,
    withBody: boolean,
  ): Promise<void> {
    const ua = asAuthgate.for(route, scope);
    if (!ua) return send(req, res, scope, route, headers, withBody);
    // In authgate's own name (docs/design.md): its credential, a registry's challenge answered.
    // It may read a small body itself first: the client is told to send it now.
    if (withBody) continueOnce(req, res);
    return asAuthgate.forward(ua, req, scope, route, headers, withBody, (h, options) =>
      send(req, res, scope, route, h, withBody, options),
    );
  }

  function send(
    req: IncomingMessage,
    res: ServerResponse,
    scope: RequestScope,
    route: CompiledRoute,
    headers: RawHeaders,
    withBody: boolean,
    options: SendOptions = {},
  ): Promise<void> {
    if (!scope.trace) return sendNow(req, res, scope, route, headers, withBody, options);
    // The upstream request in a CLIENT span; with `propagate: participate` it is the upstream's
    // parent, else the caller's traceparent goes up untouched.
    return withSpan(
      'upstream',
      SpanKind.CLIENT,
      {
        'http.request.method': scope.method,
        'server.address': route.upstream.hostname,
        'authgate.route': route.name,
      },
      async (span) => {
        const sent =
          span && deps.tracing?.propagate === 'participate'
            ? withTraceparent(headers, traceparentOf(span))
            : headers;
        try {
          await sendNow(req, res, scope, route, sent, withBody, options);
        } finally {
          if (scope.upstreamStatus !== undefined) {
            span?.setAttribute('http.response.status_code', scope.upstreamStatus);
            if (scope.upstreamStatus >= 500) span?.setStatus({ code: SpanStatusCode.ERROR });
          }
        }
      },
    );
  }

  function sendNow(
    req: IncomingMessage,
    res: ServerResponse,
    scope: RequestScope,
    route: CompiledRoute,
    headers: RawHeaders,
    withBody: boolean,
    options: SendOptions,
  ): Promise<void> {
    return forward({
      req,
      res,
      upstream: upstreamSets.get(route.name) as UpstreamSet,
      hostPerTarget: !route.config.preserveHost && route.upstreams.length > 1,
      method: req.method ?? 'GET',
      path: upstreamPath(route, scope.path ?? '/') + scope.search,
      headers,
      hasBody: withBody,
      body: options.body,
      responseTimeoutMs: route.config.timeouts.responseMs,
      responseHeaders: ['X-Request-ID', scope.requestId, ...scope.responseHeaders],
      dropResponseHeaders: scope.responseHeaders.length > 0 ? RESPONSE_DROP_LIMITED : RESPONSE_DROP,
      // From the drain on, every response closes its connection: kept-alive clients reconnect
      // (to another instance or worker) while this one still serves, instead of finding their
      // idle socket closed under them when the listener closes.
      closeConnection: () => lifecycle.past('draining'),
      replaceStatuses: UPSTREAM_AUTH_STATUSES,
      replaceResponse: options.replaceResponse ?? replaceUpstreamAuth,
      rewriteLocation: options.rewriteLocation,
      stats: scope,
      memoryGuard: deps.memoryGuard,
    });
  }

  /** Browser sign-in's own paths: the provider's callback, and sign-out. */
  async function signInPath(
    req: IncomingMessage,
    scope: RequestScope,
    which: 'callback' | 'logout',
  ): Promise<never> {
    hygiene(req, scope);
    throw which === 'callback'
      ? await deps.signIn!.callback(req, scope)
      : await deps.signIn!.logout(scope);
  }

  /**
   * The one error path of HTTP requests and upgrades: the thrown value becomes a typed error,
   * counted once; the caller only writes it to its response or socket.
   */
  function failure(scope: RequestScope, thrown: unknown): AuthgateError {
    const err = toAuthgateError(thrown instanceof ForwardFailure ? thrown.error : thrown);
    scope.errorCode = err.code;
    scope.errorReason = err.reason;
    const routeName = routeLabel(scope);
    if (err.origin === 'proxy')
      metrics?.proxyErrors.labels(routeName, err.code, String(err.status)).inc();
    if (err.code === 'UPSTREAM_UNAVAILABLE' || err.code === 'UPSTREAM_TIMEOUT') {
      metrics?.upstreamErrors.labels(routeName, err.reason).inc();
    } else if (err.origin === 'upstream') {
      metrics?.upstreamAuthErrors.labels(routeName, String(err.status)).inc();
    }
    if (err.code === 'INTERNAL_ERROR') {
      logger.error('internal error', { request_id: scope.requestId, error: String(err.cause) });
    }
    return err;
  }

  /** One metric sample and one access line per exchange, HTTP or upgrade. */
  function finished(
    scope: RequestScope,
    status: number,
    kind: 'request' | 'upgrade',
    aborted?: boolean,
  ) {
    lifecycle.requestDone();
    metrics?.requestFinished();
    metrics?.observeRequest(
      routeLabel(scope),
      methodLabel(scope.method),
      status,
      (performance.now() - scope.startedAt) / 1000,
    );
    logAccess(logger, scope, { status, aborted, message: kind }, config.logging.accessLog);
    if (scope.trace) endTrace(scope, status);
  }

  /** The SERVER span ends with the request: what was decided, never a credential. */
  function endTrace(scope: RequestScope, status: number): void {
    const span = scope.trace!.span;
    const route = routeLabel(scope);
    span.updateName(`${scope.method} ${route}`);
    span.setAttributes({
      'http.response.status_code': status,
      'url.path': scope.path ?? '',
      'client.address': scope.clientIp,
      'authgate.route': route,
      'authgate.request_id': scope.requestId,
      'authgate.auth_method': scope.principal?.authMethod ?? 'none',
      ...(scope.decision ? { 'authgate.decision': scope.decision } : {}),
      ...(scope.errorCode ? { 'authgate.error_code': scope.errorCode } : {}),
      ...(scope.errorReason ? { 'authgate.reason': scope.errorReason } : {}),
    });
    // HTTP semantic conventions: on a SERVER span, 4xx are the client's, 5xx are errors.
    if (status >= 500 && status !== CLIENT_CLOSED)
      span.setStatus({ code: SpanStatusCode.ERROR, message: scope.errorCode ?? String(status) });
    span.end();
  }

  function started(): void {
    lifecycle.requestStarted();
    metrics?.requestStarted();
  }

  /** The answer to a request past the health paths: sign-in paths, or the chain. */
  function serve(req: IncomingMessage, res: ServerResponse, scope: RequestScope): void {
    const signInAt = deps.signIn?.own(req.url ?? '/');
    const work = signInAt ? signInPath(req, scope, signInAt) : run(req, res, scope);
    work.catch((thrown: unknown) => {
      // A browser sent on (to sign in, or back after it) is an answer, not a failure.
      const err =
        thrown instanceof AuthgateError && thrown.redirect !== undefined
          ? thrown
          : failure(scope, thrown);
      if (err.redirect) scope.errorReason = err.reason;
      if (scope.aborted || res.destroyed) return;
      try {
        scope.bytesOut += sendError(req, res, err, {
          requestId: scope.requestId,
          close: lifecycle.past('draining'),
          style: scope.route?.errorStyle,
        });
      } catch (writeFailed) {
        // Nothing a request does may end the process: this response is cut instead.
        logger.error('error response failed', {
          request_id: scope.requestId,
          error: String(writeFailed),
        });
        res.destroy();
      }
    });
  }

  return {
    handleRequest(req, res) {
      const scope = createRequestScope(req);
      const own = healthTarget(req.url ?? '/', paths);
      if (own === 'health') return sendHealth(res, 200, 'ok', scope.requestId);
      if (own === 'ready') {
        return lifecycle.past('draining')
          ? sendHealth(res, 503, 'draining', scope.requestId)
          : sendHealth(res, 200, 'ready', scope.requestId);
      }
      if (own === 'metrics') {
        void metrics?.serve(req, res, config.metrics.bearerToken);
        return;
      }
      if (deps.asserter && isJwksRequest(req, config)) return sendJwks(res, deps.asserter);
      started();
      scope.trace = deps.tracing?.startRequest(scope.rawHeaders, scope.method, {
        'http.request.method': scope.method,
        'url.scheme': 'encrypted' in req.socket ? 'https' : 'http',
        'network.peer.address': scope.peerIp,
      });
      res.once('close', () => {
        const status = res.headersSent ? res.statusCode : CLIENT_CLOSED;
        finished(scope, status, 'request', scope.aborted || !res.writableFinished);
      });
      if (scope.trace) deps.tracing!.run(scope.trace, () => serve(req, res, scope));
      else serve(req, res, scope);
    },

    handleUpgrade(req, socket, head) {
      const scope = createRequestScope(req);
      started();
      let done = false;
      const finish = (status: number): void => {
        if (done) return;
        done = true;
        finished(scope, status, 'upgrade');
      };
      socket.on('error', () => socket.destroy());
      lifecycle.trackTunnel(socket);
      scope.upgrade = true;
      admit(req, scope)
        .then(async (route) => {
          const path = upstreamPath(route, scope.path ?? '/');
          let headers = upstreamHeaders(req, scope, route, true);
          const ua = asAuthgate.for(route, scope);
          if (ua) headers = await asAuthgate.upgradeHeaders(ua, scope, route, path, headers);
          return proxyUpgrade({
            req,
            socket,
            head,
            upstream: upstreamSets.get(route.name) as UpstreamSet,
            hostPerTarget: !route.config.preserveHost && route.upstreams.length > 1,
            path: path + scope.search,
            headers,
            connectTimeoutMs: route.config.timeouts.connectMs,
            responseHeaders: ['X-Request-ID', scope.requestId, ...scope.responseHeaders],
            tls: upstreamTls.get(route.name)?.options,
          });
        })
        .then(finish, (thrown: unknown) => {
          const err = failure(scope, thrown);
          sendErrorOnSocket(socket, err, scope.requestId, false, scope.route?.errorStyle);
          finish(err.status);
        });
    },

    handleConnect(req, socket) {
      const scope = createRequestScope(req);
      socket.on('error', () => socket.destroy());
      started();
      const err = failure(
        scope,
        new AuthgateError('METHOD_NOT_ALLOWED', {
          message: 'CONNECT is not supported: authgate is a reverse proxy.',
          reason: 'connect_refused',
          headers: { Allow: ALLOWED_METHODS },
        }),
      );
      sendErrorOnSocket(socket, err, scope.requestId);
      finished(scope, err.status, 'request');
    },

    claims(url) {
      if (healthTarget(url, paths) !== undefined) return true;
      if (deps.signIn?.own(url) !== undefined) return true;
      try {
        routes.match(normalizeRequestTarget(url).path);
        return true;
      } catch (err) {
        // A target authgate refuses to normalise is answered by authgate (400), never passed on.
        return !(err instanceof AuthgateError && err.code === 'ROUTE_NOT_FOUND');
      }
    },

    async admitFor(req, scope, route) {
      scope.route = route;
      await admit(req, scope);
    },

    guardRoute(route) {
      extendHeaderGuard(guard, { tenantHeaders: [route.config.tenantHeader] });
    },

    startDraining: () => lifecycle.enter('draining'),
    startClosing: () => lifecycle.enter('closing'),
    stop: () => lifecycle.enter('stopped'),
    get draining() {
      return lifecycle.past('draining');
    },
    inFlight: () => lifecycle.inFlight,
    idle: () => lifecycle.idle(),
    ready: async () => {
      await Promise.all([...upstreamSets.values()].map((set) => set.ready));
    },
    close() {
      lifecycle.destroyTunnels();
      for (const set of upstreamSets.values()) set.stop();
      for (const tls of upstreamTls.values()) tls.stop();
      pools.destroy();
    },
    async retire() {
      await lifecycle.idle();
      for (const set of upstreamSets.values()) set.stop();
      for (const tls of upstreamTls.values()) tls.stop();
      await pools.close();
    },
  };
}

/** The upstream headers with authgate's own span as the parent (`propagate: participate`). */
function withTraceparent(headers: RawHeaders, traceparent: string): RawHeaders {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if ((headers[i] as string).toLowerCase() === 'traceparent') continue;
    out.push(headers[i] as string, headers[i + 1] as string);
  }
  out.push('traceparent', traceparent);
  return out;
}

/** A GET of `identityAssertion.jwksPath` (served like a health path: no auth, no access line). */
export function isJwksRequest(req: IncomingMessage, config: Readonly<Config>): boolean {
  const path = config.identityAssertion?.jwksPath;
  if (path === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return (q === -1 ? url : url.slice(0, q)) === path;
}

/** The identity assertion's public keys (cacheable for a few minutes). */
export function sendJwks(res: ServerResponse, asserter: IdentityAsserter): void {
  const body = asserter.jwks();
  res.writeHead(200, {
    'Content-Type': 'application/jwk-set+json',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'max-age=300',
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
