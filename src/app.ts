/**
 * The request chain, in order, in one place:
 *
 *   request id → health/metrics → draining → path normalisation → header hygiene →
 *   credentials → route match → authenticate → authorise → rate limit → forward (header rules
 *   applied by authgate itself, before the request leaves) → upstream 401/403 mapping
 *
 * Each stage either moves the typed RequestScope on or throws a typed error; only
 * `sendError` answers errors. WebSocket upgrades run the same stages up to rate limiting.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Authenticator } from './auth/authenticator';
import { NOT_RESPONSIBLE } from './auth/authenticator';
import { authorize, methodNotGrantedError } from './auth/authorize';
import { FailedAuthGuard } from './auth/failed-auth-guard';
import type { Clock } from './clock';
import type { AuthObserver } from './auth/observer';
import {
  extractCredentials,
  malformedCredentialError,
  refuseQueryToken,
  type CredentialRules,
} from './auth/credentials';
import type { Config } from './config/schema';
import { sendError, sendErrorOnSocket } from './error-response';
import { AuthgateError, toAuthgateError } from './errors';
import {
  FORWARDED_HEADERS,
  NetworkList,
  appendForwardedHeaders,
  clientIp,
  normalizeIp,
} from './headers/forwarded';
import { hasBody, requestFraming } from './headers/framing';
import { checkGuardedHeaders, compileHeaderGuard } from './headers/guarded';
import { stripHopByHop, type RawHeaders } from './headers/hop-by-hop';
import { decideRequestId } from './headers/request-id';
import { logAccess, responseStatus } from './logging/access-log';
import { methodLabel, type Metrics } from './metrics';
import { RateLimiter, rateLimitHeaders, rateLimitRule, rateLimitedError } from './rate-limit';
import type { Logger } from './logging/logger';
import { normalizeRequestTarget } from './paths/normalize-path';
import { UpstreamPools } from './proxy/agents';
import { ForwardFailure, forward } from './proxy/forward';
import { StreamMemoryGuard } from './proxy/memory-guard';
import { isWebSocketUpgrade, proxyUpgrade } from './proxy/upgrade';
import { UPSTREAM_AUTH_STATUSES, upstreamAuthError } from './proxy/upstream-auth';
import { createScrubber } from './logging/mask';
import type { RequestScope } from './request-scope';
import {
  METHOD_NOT_GRANTED,
  RouteTable,
  routePath,
  upstreamPath,
  type CompiledRoute,
} from './routes/route-table';

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
  /** The one clock (system clock when absent); tests pass a manual one. */
  clock?: Clock;
}

export interface App {
  handleRequest(req: IncomingMessage, res: ServerResponse): void;
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** CONNECT: authgate is no forward proxy; answered 405 on the socket. */
  handleConnect(req: IncomingMessage, socket: Duplex): void;
  /**
   * Readiness goes 503 (DESIGN §8); every request is still served, so the load balancer can
   * deregister this instance without a single request refused.
   */
  startDraining(): void;
  /** The listener is closing: responses carry `Connection: close`. */
  startClosing(): void;
  /** Past the grace period: requests still arriving get 503 SHUTTING_DOWN. */
  stop(): void;
  readonly draining: boolean;
  inFlight(): number;
  /** Resolves once no request is in flight. */
  idle(): Promise<void>;
  close(): void;
}

const DROP_WITH_NEW_REQUEST_ID: ReadonlySet<string> = new Set([
  ...FORWARDED_HEADERS,
  'x-request-id',
]);
const RESPONSE_DROP: ReadonlySet<string> = new Set(['x-request-id']);
/** On a rate-limited route authgate's RateLimit fields replace the upstream's. */
const RESPONSE_DROP_LIMITED: ReadonlySet<string> = new Set([
  'x-request-id',
  'ratelimit',
  'ratelimit-policy',
]);

export function createApp(config: Readonly<Config>, deps: AppDependencies): App {
  const { logger, metrics } = deps;
  const rateLimiter = deps.rateLimiter ?? new RateLimiter();
  const failedAuthGuard =
    deps.failedAuthGuard ?? new FailedAuthGuard(config.auth.failedAuthGuard, undefined);
  // With metrics.port 0 the scrape is served on the main listener.
  const metricsPath = config.metrics.port === 0 ? config.metrics.path : undefined;
  const authenticators = deps.authenticators ?? [];
  const routes = new RouteTable(config.routes);
  const pools = new UpstreamPools(config.proxy);
  const memoryGuard = new StreamMemoryGuard();
  const trustedProxies = new NetworkList(config.server.trustedProxies);
  const internalNetworks = new NetworkList(config.server.internalNetworks);
  const apiKeys = config.auth.apiKeys;
  const credentialRules: CredentialRules = {
    apiKeyHeader: apiKeys?.header.toLowerCase(),
    apiKeyPrefixes: apiKeys?.prefixes ?? [],
  };
  const scrub = createScrubber(apiKeys?.prefixes, config.logging.maskQueryParams);
  const replaceUpstreamAuth = (res: IncomingMessage) => upstreamAuthError(res, scrub);
  const headerGuard = compileHeaderGuard({
    tenantHeaders: config.routes.map((r) => r.tenantHeader),
    apiKeyHeader: apiKeys?.header,
  });
  const { healthPath, readyPath } = config.server;
  /** Shutdown phases, in order (DESIGN §8): each implies the ones before it. */
  const PHASES = ['serving', 'draining', 'closing', 'stopped'] as const;
  let phase = 0;
  const past = (p: (typeof PHASES)[number]): boolean => phase >= PHASES.indexOf(p);
  const enter = (p: (typeof PHASES)[number]): void => {
    phase = Math.max(phase, PHASES.indexOf(p));
  };
  let inFlight = 0;
  let idleWaiters: Array<() => void> = [];
  /** Upgraded sockets: no longer tracked by the HTTP server, so closed by us on shutdown. */
  const tunnels = new Set<Duplex>();

  function sendHealth(res: ServerResponse, status: number, state: string, requestId: string): void {
    const body = JSON.stringify({ status: state });
    res.writeHead(status, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(body),
      'Cache-Control': 'no-store',
      'X-Request-ID': requestId,
    });
    res.end(body);
  }

  function healthPathOf(url: string): string {
    const q = url.indexOf('?');
    return q === -1 ? url : url.slice(0, q);
  }

  function newScope(req: IncomingMessage): RequestScope {
    const raw = req.rawHeaders;
    const { requestId, kept } = decideRequestId(raw);
    const peerIp = normalizeIp(req.socket.remoteAddress);
    return {
      requestId,
      requestIdKept: kept,
      startedAt: performance.now(),
      method: req.method ?? 'GET',
      rawHeaders: raw,
      peerIp,
      clientIp: peerIp,
      search: '',
      addHeaders: [],
      responseHeaders: [],
      bytesIn: 0,
      bytesOut: 0,
      aborted: false,
    };
  }

  function isCorsPreflight(req: IncomingMessage): boolean {
    return (
      req.method === 'OPTIONS' &&
      req.headers.origin !== undefined &&
      req.headers['access-control-request-method'] !== undefined
    );
  }

  async function authenticate(
    req: IncomingMessage,
    scope: RequestScope,
    route: CompiledRoute,
  ): Promise<void> {
    if (route.config.auth === 'none') return;
    // A preflight carries no credentials by design (Fetch spec); only routes that opt in let it through.
    if (route.config.cors.preflight && isCorsPreflight(req)) return;
    if (scope.credentials?.malformed !== undefined) throw malformedCredentialError();
    for (const authenticator of authenticators) {
      const result = await authenticator.authenticate(req, scope);
      if (result !== NOT_RESPONSIBLE) {
        scope.principal = result;
        return;
      }
    }
    if (route.config.auth === 'required') {
      throw new AuthgateError('AUTH_REQUIRED', { reason: 'no_credentials' });
    }
  }

  /** The upstream request headers: hop-by-hop removed first, then ours added (reply-from). */
  function upstreamHeaders(
    req: IncomingMessage,
    scope: RequestScope,
    route: CompiledRoute,
    upgrade: boolean,
  ): RawHeaders {
    const raw = scope.rawHeaders;
    const headers = stripHopByHop(raw, {
      drop: scope.requestIdKept ? FORWARDED_HEADERS : DROP_WITH_NEW_REQUEST_ID,
      keepUpgrade: upgrade,
      protect: headerGuard.connectionProtected,
    });
    if (!scope.requestIdKept) headers.push('X-Request-ID', scope.requestId);
    appendForwardedHeaders(headers, raw, {
      peerIp: scope.peerIp,
      trusted: trustedProxies.has(scope.peerIp),
      proto: 'encrypted' in req.socket ? 'https' : 'http',
      localPort: req.socket.localPort ?? 0,
      host: req.headers.host,
    });
    let hostAt = -1;
    for (let i = 0; i < headers.length; i += 2) {
      if ((headers[i] as string).toLowerCase() === 'host') {
        hostAt = i;
        break;
      }
    }
    if (hostAt === -1) headers.push('Host', route.upstream.host);
    else if (!route.config.preserveHost) headers[hostAt + 1] = route.upstream.host;
    // The client's Transfer-Encoding went with the hop-by-hop headers: frame the body ourselves,
    // whatever the method, so it can never be read upstream as a second request (issue 8.1).
    if (scope.framing?.kind === 'chunked') headers.push('Transfer-Encoding', 'chunked');
    headers.push(...scope.addHeaders);
    return headers;
  }

  /**
   * Every stage before forwarding, shared by plain requests and upgrades: draining → path →
   * header hygiene → credentials → route → (upgrade allowed?) → authenticate → authorise.
   */
  async function admit(
    req: IncomingMessage,
    scope: RequestScope,
    upgrade: boolean,
  ): Promise<CompiledRoute> {
    if (past('stopped')) throw new AuthgateError('SHUTTING_DOWN', { reason: 'stopped' });
    const target = normalizeRequestTarget(req.url ?? '/');
    scope.path = target.path;
    scope.search = target.search;
    scope.framing = requestFraming(scope.rawHeaders);
    checkGuardedHeaders(scope.rawHeaders, headerGuard, trustedProxies.has(scope.peerIp));
    refuseQueryToken(target.search);
    scope.credentials = extractCredentials(scope.rawHeaders, credentialRules);
    if (logger.isDebugEnabled()) {
      // Which credentials are present — never their values.
      logger.debug('credentials', {
        request_id: scope.requestId,
        bearer: scope.credentials.bearer !== undefined,
        api_key: scope.credentials.apiKey !== undefined,
        scheme: scope.credentials.scheme ?? null,
        malformed: scope.credentials.malformed !== undefined,
        cookie: scope.rawHeaders.some((h, i) => i % 2 === 0 && h.toLowerCase() === 'cookie'),
      });
    }
    scope.clientIp = clientIp(scope.rawHeaders, scope.peerIp, trustedProxies);
    const route = routes.match(target.path);
    scope.route = route;
    if (upgrade && !(route.config.ws && isWebSocketUpgrade(req))) {
      throw new AuthgateError('BAD_REQUEST', {
        message: 'Protocol upgrades are not allowed on this route.',
        reason: 'upgrade_refused',
      });
    }
    if (route.config.auth !== 'none') await authenticateAndAuthorize(req, scope, route);
    await enforceRateLimit(scope, route);
    return route;
  }

  async function enforceRateLimit(scope: RequestScope, route: CompiledRoute): Promise<void> {
    const limit = route.config.rateLimit;
    if (!limit) return;
    const subject =
      limit.by === 'principal'
        ? scope.principal?.userId
        : limit.by === 'tenant'
          ? (tenantOf(scope, route) ?? scope.principal?.tenantIds[0])
          : scope.clientIp;
    // Without a principal or tenant, the caller's address is the only fair key.
    const decision = await rateLimiter.hit(
      rateLimitRule(route.name, limit),
      limit.by,
      subject ?? `ip:${scope.clientIp}`,
    );
    if (!decision.allowed) {
      metrics?.rateLimited.labels(route.name, limit.by).inc();
      throw rateLimitedError(decision, route.name);
    }
    scope.responseHeaders.push(...rateLimitHeaders(route.name, decision));
  }

  async function authenticateAndAuthorize(
    req: IncomingMessage,
    scope: RequestScope,
    route: CompiledRoute,
  ): Promise<void> {
    const credentials = scope.credentials;
    const presented =
      credentials !== undefined &&
      (credentials.bearer !== undefined ||
        credentials.apiKey !== undefined ||
        credentials.malformed !== undefined);
    try {
      // Before any signature check or auth-service call (issue 8.10).
      if (presented) failedAuthGuard.check(scope.clientIp);
      await authenticate(req, scope, route);
      if (scope.principal) {
        scope.addHeaders = authorize({
          principal: scope.principal,
          method: scope.method,
          rawHeaders: scope.rawHeaders,
          requiredScopes: route.scopesFor(scope.method, routePath(route, scope.path ?? '/')),
          tenantHeader: route.config.tenantHeader.toLowerCase(),
          internalCaller: internalNetworks.has(scope.peerIp),
        });
      } else if (
        route.scopesFor(scope.method, routePath(route, scope.path ?? '/')) === METHOD_NOT_GRANTED &&
        !(route.config.cors.preflight && isCorsPreflight(req))
      ) {
        // Anonymous on an optional route: a method nobody is granted stays closed too.
        throw methodNotGrantedError(scope.method);
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
  }

  function authMethodOf(scope: RequestScope): string {
    if (scope.principal) return scope.principal.authMethod;
    if (scope.credentials?.apiKey !== undefined) return 'api_key';
    if (scope.credentials?.bearer !== undefined) return 'jwt';
    return 'none';
  }

  /** One metric sample and one audit line per authentication/authorisation decision. */
  function recordDecision(scope: RequestScope, route: CompiledRoute, thrown: unknown): void {
    const err = thrown === undefined ? undefined : toAuthgateError(thrown);
    const result = err ? (err.status === 503 ? 'error' : 'deny') : 'allow';
    const reason = err ? err.reason : scope.principal ? 'ok' : 'anonymous';
    const authMethod = authMethodOf(scope);
    scope.tenantId = tenantOf(scope, route);
    metrics?.authDecisions.labels(route.name, authMethod, result, reason).inc();
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
    });
  }

  function tenantOf(scope: RequestScope, route: CompiledRoute): string | undefined {
    const name = route.config.tenantHeader.toLowerCase();
    for (let i = 0; i < scope.rawHeaders.length; i += 2) {
      if ((scope.rawHeaders[i] as string).toLowerCase() === name) return scope.rawHeaders[i + 1];
    }
    return undefined;
  }

  async function run(
    req: IncomingMessage,
    res: ServerResponse,
    scope: RequestScope,
  ): Promise<void> {
    const route = await admit(req, scope, false);
    await forward({
      req,
      res,
      upstream: route.upstream,
      agent: pools.agentFor(route.upstream),
      path: upstreamPath(route, scope.path ?? '/') + scope.search,
      headers: upstreamHeaders(req, scope, route, false),
      hasBody: scope.framing !== undefined && hasBody(scope.framing),
      connectTimeoutMs: route.config.timeouts.connectMs,
      responseTimeoutMs: route.config.timeouts.responseMs,
      responseHeaders: ['X-Request-ID', scope.requestId, ...scope.responseHeaders],
      dropResponseHeaders: scope.responseHeaders.length > 0 ? RESPONSE_DROP_LIMITED : RESPONSE_DROP,
      // From the drain on, every response closes its connection: kept-alive clients reconnect
      // (to another instance or worker) while this one still serves, instead of finding their
      // idle socket closed under them when the listener closes.
      closeConnection: () => past('draining'),
      replaceStatuses: UPSTREAM_AUTH_STATUSES,
      replaceResponse: replaceUpstreamAuth,
      stats: scope,
      memoryGuard,
    });
  }

  /**
   * The one error path of HTTP requests and upgrades: the thrown value becomes a typed error,
   * counted and logged once; the caller only writes it to its response or socket.
   */
  function failure(scope: RequestScope, thrown: unknown): AuthgateError {
    const err = toAuthgateError(thrown instanceof ForwardFailure ? thrown.error : thrown);
    scope.errorCode = err.code;
    scope.errorReason = err.reason;
    const routeName = scope.route?.name ?? 'none';
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

  function fail(
    req: IncomingMessage,
    res: ServerResponse,
    scope: RequestScope,
    thrown: unknown,
  ): void {
    const err = failure(scope, thrown);
    if (scope.aborted || res.destroyed) return;
    sendError(req, res, err, {
      requestId: scope.requestId,
      close: past('draining'),
      style: scope.route?.errorStyle,
    });
  }

  function requestDone(): void {
    inFlight--;
    if (inFlight === 0 && idleWaiters.length > 0) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  return {
    handleRequest(req, res) {
      const scope = newScope(req);
      const url = req.url ?? '/';
      if (url.startsWith(healthPath) || url.startsWith(readyPath)) {
        const path = healthPathOf(url);
        if (path === healthPath) return sendHealth(res, 200, 'ok', scope.requestId);
        if (path === readyPath) {
          return past('draining')
            ? sendHealth(res, 503, 'draining', scope.requestId)
            : sendHealth(res, 200, 'ready', scope.requestId);
        }
      }
      if (metricsPath !== undefined && healthPathOf(url) === metricsPath) {
        void metrics?.serve(req, res, config.metrics.bearerToken);
        return;
      }
      inFlight++;
      metrics?.inFlight.inc();
      res.once('close', () => {
        requestDone();
        if (metrics) {
          const route = scope.route?.name ?? 'none';
          const method = methodLabel(scope.method);
          metrics.inFlight.dec();
          metrics.observeRequest(
            route,
            method,
            responseStatus(scope, res),
            (performance.now() - scope.startedAt) / 1000,
          );
        }
        logAccess(logger, scope, res);
      });
      run(req, res, scope).catch((err: unknown) => fail(req, res, scope, err));
    },

    handleUpgrade(req, socket, head) {
      const scope = newScope(req);
      inFlight++;
      let logged = false;
      const done = (status: number): void => {
        if (logged) return;
        logged = true;
        requestDone();
        metrics?.observeRequest(
          scope.route?.name ?? 'none',
          methodLabel(scope.method),
          status,
          (performance.now() - scope.startedAt) / 1000,
        );
        logger.info('upgrade', {
          type: 'access',
          request_id: scope.requestId,
          route: scope.route?.name ?? 'none',
          method: scope.method,
          path: scope.path ?? null,
          status,
          error_code: scope.errorCode,
          reason: scope.errorReason,
          client_ip: scope.clientIp,
          auth_method: scope.principal?.authMethod,
          user_id: scope.principal?.userId,
        });
      };
      socket.on('error', () => socket.destroy());
      tunnels.add(socket);
      socket.once('close', () => tunnels.delete(socket));
      admit(req, scope, true)
        .then((route) =>
          proxyUpgrade({
            req,
            socket,
            head,
            upstream: route.upstream,
            path: upstreamPath(route, scope.path ?? '/') + scope.search,
            headers: upstreamHeaders(req, scope, route, true),
            connectTimeoutMs: route.config.timeouts.connectMs,
            responseHeaders: ['X-Request-ID', scope.requestId, ...scope.responseHeaders],
          }),
        )
        .then(
          (status) => done(status),
          (thrown: unknown) => {
            const err = failure(scope, thrown);
            sendErrorOnSocket(socket, err, scope.requestId, false, scope.route?.errorStyle);
            done(err.status);
          },
        );
    },

    handleConnect(req, socket) {
      const scope = newScope(req);
      socket.on('error', () => socket.destroy());
      const err = failure(
        scope,
        new AuthgateError('METHOD_NOT_ALLOWED', {
          message: 'CONNECT is not supported: authgate is a reverse proxy.',
          reason: 'connect_refused',
          headers: { Allow: 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS' },
        }),
      );
      sendErrorOnSocket(socket, err, scope.requestId);
      metrics?.observeRequest('none', methodLabel(scope.method), err.status, 0);
      logger.info('request', {
        type: 'access',
        request_id: scope.requestId,
        route: 'none',
        method: scope.method,
        status: err.status,
        error_code: err.code,
        client_ip: scope.clientIp,
      });
    },

    startDraining: () => enter('draining'),
    startClosing: () => enter('closing'),
    stop: () => enter('stopped'),
    get draining() {
      return past('draining');
    },
    inFlight: () => inFlight,
    idle() {
      if (inFlight === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
    close() {
      for (const socket of tunnels) socket.destroy();
      pools.destroy();
    },
  };
}
