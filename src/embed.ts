/**
 * authgate as a library (docs/design.md#library-api): the whole proxy as a request handler, as Express
 * middleware that serves the configured routes and passes everything else on, and the
 * authentication and authorisation stages alone in front of any handler (for example
 * http-proxy-middleware's `createProxyMiddleware`).
 *
 * Embedding changes no process-wide state: no signal handlers, no listener, and the stream
 * memory guard (which forces minor GCs through V8 flags) only when asked for.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Clock } from './clock';
import { isParsedConfig, loadConfigFile, parseConfig } from './config/load';
import { routeSchema, type Config, type RouteConfig } from './config/schema';
import { sendError } from './error-response';
import { AuthgateError, toAuthgateError } from './errors';
import { createLoggerFromConfig, type Logger } from './logging/logger';
import type { Metrics } from './metrics';
import { StreamMemoryGuard } from './proxy/memory-guard';
import { hasDotSegments } from './paths/normalize-path';
import { createRequestScope, type Principal, type RequestScope } from './request-scope';
import { compileRoute, type CompiledRoute } from './routes/route-table';
import { buildRuntime } from './runtime';

/** What `authenticate()` leaves on the request. */
export interface AuthgateRequestInfo {
  /** The verified caller; undefined only with `optional: true` and no credential. */
  principal?: Principal;
  requestId: string;
}

export type Middleware = (
  req: IncomingMessage,
  res: ServerResponse,
  next: (err?: unknown) => void,
) => void;

export interface AuthenticateOptions {
  /** Scopes the caller must hold (all of them). Default none. */
  scopes?: readonly string[];
  /** Let callers without a credential through (a presented credential must still be valid). */
  optional?: boolean;
  /** The header naming the tenant (default X-Tenant-ID): must be one of the caller's tenants. */
  tenantHeader?: string;
  /** The label of this check in metrics and audit lines (default "embedded"). */
  name?: string;
  /**
   * `browser`: a browser navigation without a credential or session is sent to sign in at
   * `auth.oidc` (docs/browser-sign-in.md); mount `gate.express()` for the callback and logout.
   */
  login?: 'none' | 'browser';
}

export interface Authgate {
  readonly config: Readonly<Config>;
  /** The whole proxy for `http.createServer(gate.handler)`. */
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** For `server.on('upgrade', gate.upgradeHandler)` (routes with `ws: true`). */
  readonly upgradeHandler: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Express 5 middleware: the configured routes and health paths; anything else → next(). */
  express(): Middleware;
  /**
   * Authenticates and authorises only: sets `req.authgate` and the identity headers
   * (X-User-ID, X-Request-ID) on `req`, then calls next(); failures are answered as typed
   * errors (docs/design.md#typed-errors).
   */
  authenticate(options?: AuthenticateOptions): Middleware;
  /** Prometheus registry of this instance (to serve it where the host app wants). */
  readonly metrics: Metrics;
  /** Drops Redis connections, timers and upstream pools. */
  close(): Promise<void>;
}

export interface CreateAuthgateOptions {
  /** Default: JSON lines on stdout at `logging.level`, masked. */
  logger?: Logger;
  clock?: Clock;
  /** Force minor GCs while large bodies stream (process-wide V8 flag); default off when embedded. */
  streamMemoryGuard?: boolean;
  /** Environment for `${VAR}` in a config object; default process.env. */
  env?: NodeJS.ProcessEnv;
}

declare module 'node:http' {
  interface IncomingMessage {
    /** Set by `gate.authenticate()`. */
    authgate?: AuthgateRequestInfo;
  }
}

/**
 * Reads and validates a config file (YAML), the same way `authgate serve` does.
 *
 * @example
 *   const gate = await createAuthgate(await loadConfig('config/authgate.yaml'));
 */
export async function loadConfig(file: string): Promise<Readonly<Config>> {
  return loadConfigFile(file, process.env, { requireRoutes: false });
}

/** A config that parseConfig or loadConfig returned is used as it is; anything else is parsed. */
function toConfig(input: unknown, env: NodeJS.ProcessEnv): Readonly<Config> {
  if (isParsedConfig(input)) return input;
  return parseConfig(input, env, 'createAuthgate', { requireRoutes: false });
}

/** The route an `authenticate()` call checks against: only its auth, scopes and tenant matter. */
function embeddedRoute(options: AuthenticateOptions): CompiledRoute {
  const route = routeSchema.parse({
    name: options.name ?? 'embedded',
    prefix: '/',
    upstream: 'http://embedded.invalid',
    auth: options.optional ? 'optional' : 'required',
    scopes: [...(options.scopes ?? [])],
    tenantHeader: options.tenantHeader ?? 'X-Tenant-ID',
    login: options.login ?? 'none',
  }) as RouteConfig;
  return compileRoute(route);
}

/**
 * Builds authgate from a config object or one returned by `loadConfig`.
 *
 * @example
 *   const gate = await createAuthgate({ auth: { jwt: { issuers: [...] } } });
 *   app.get('/own', gate.authenticate({ scopes: ['reports:read'] }), handler);
 *   await gate.close();
 */
export async function createAuthgate(
  input: unknown,
  options: CreateAuthgateOptions = {},
): Promise<Authgate> {
  const config = toConfig(input, options.env ?? process.env);
  const logger = options.logger ?? createLoggerFromConfig(config);
  // The same composition root as `authgate serve`: one chain, one guard, one set of decisions.
  const runtime = await buildRuntime(config, {
    logger,
    clock: options.clock,
    env: options.env,
    memoryGuard: options.streamMemoryGuard ? new StreamMemoryGuard() : undefined,
  });
  const { app, metrics } = runtime;

  /**
   * The chain for `authenticate()`. The handler behind may read the path as the client wrote it
   * (`req.originalUrl`, a proxy forwarding it): a path with dot-segments would be decided on one
   * path and served on another, so it is refused; anything else goes on as decided.
   */
  async function admitEmbedded(
    req: IncomingMessage,
    scope: RequestScope,
    route: CompiledRoute,
  ): Promise<void> {
    const original = (req as IncomingMessage & { originalUrl?: string }).originalUrl;
    if (hasDotSegments(req.url ?? '/') || (original !== undefined && hasDotSegments(original))) {
      throw new AuthgateError('BAD_REQUEST', {
        message: 'Paths with "." or ".." segments are not accepted here.',
        reason: 'dot_segments',
      });
    }
    await app.admitFor(req, scope, route);
  }

  return {
    config,
    metrics,
    handler: app.handleRequest,
    upgradeHandler: app.handleUpgrade,

    express() {
      return (req, res, next) => {
        // Mounted under a path, Express rewrites req.url; routes are matched on the whole path.
        // req.url is only changed for a request authgate takes: next() sees it as Express left it.
        const url =
          (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '/';
        if (!app.claims(url)) return next();
        req.url = url;
        app.handleRequest(req, res);
      };
    },

    authenticate(opts = {}) {
      const route = embeddedRoute(opts);
      app.guardRoute(route);
      return (req, res, next) => {
        const scope = createRequestScope(req);
        admitEmbedded(req, scope, route).then(
          () => {
            // The handler behind sees exactly the path that was decided on (dot-segments
            // resolved), never the one the client wrote.
            req.url = (scope.path ?? '/') + scope.search;
            // What the proxy would send upstream, set on the request for the handler behind.
            for (let i = 0; i < scope.addHeaders.length; i += 2)
              req.headers[scope.addHeaders[i]!.toLowerCase()] = scope.addHeaders[i + 1];
            if (!scope.requestIdKept) req.headers['x-request-id'] = scope.requestId;
            res.setHeader('X-Request-ID', scope.requestId);
            for (let i = 0; i < scope.responseHeaders.length; i += 2)
              res.setHeader(scope.responseHeaders[i]!, scope.responseHeaders[i + 1]!);
            req.authgate = { principal: scope.principal, requestId: scope.requestId };
            next();
          },
          (thrown: unknown) => {
            const err = toAuthgateError(thrown);
            if (err.code === 'INTERNAL_ERROR')
              logger.error('internal error', {
                request_id: scope.requestId,
                error: String(err.cause),
              });
            sendError(req, res, err, { requestId: scope.requestId, style: route.errorStyle });
          },
        );
      };
    },

    close: () => runtime.close(),
  };
}

export { AuthgateError };
