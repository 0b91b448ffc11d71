/**
 * Listeners and lifecycle: builds the app, listens, and drains on shutdown — readiness goes
 * 503, the listener stops accepting, requests in flight finish (up to shutdownGraceMs), then
 * the remaining connections are closed.
 */
import cluster from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { readTlsFiles, watchTlsFiles } from './tls-listener';
import { systemClock } from './clock';
import { Server as NetServer, type AddressInfo } from 'node:net';
import { isJwksRequest, sendJwks, type App, type AppDependencies } from './app';
import type { AuthLayer } from './auth';
import type { Config } from './config/schema';
import { sendErrorOnSocket, sendNotFound } from './error-response';
import { AuthgateError } from './errors';
import type { Metrics } from './metrics';
import { StreamMemoryGuard } from './proxy/memory-guard';
import { buildRuntime } from './runtime';

export { authgateVersion } from './version';

export interface RunningServer {
  readonly server: Server;
  readonly app: App;
  readonly port: number;
  /** The metrics listener's port (the main port when metrics.port is 0). */
  readonly metricsPort: number;
  readonly metrics: Metrics;
  /** The auth layer built from config (absent when authenticators were injected). */
  readonly auth: AuthLayer | undefined;
  /**
   * Drains and closes; resolves true when every request finished within the grace period.
   * `drainDelayMs` overrides the configured delay (0 for an interactive Ctrl-C).
   */
  shutdown(drainDelayMs?: number): Promise<boolean>;
  /**
   * Puts `next` in force without dropping a connection (docs/design.md, "Reload"): new requests
   * use it, requests in flight finish under the old one. Keys that need a restart, or a config
   * whose parts cannot be built (a key file, a certificate), leave the running config in force:
   * `ok: false` with the problems, one error line, and the failure counted.
   */
  reload(next: Readonly<Config>, hash: string): Promise<ReloadResult>;
  /** The config in force. */
  readonly config: Readonly<Config>;
}

export interface ReloadResult {
  ok: boolean;
  problems: string[];
}

/** What only a restart can change: the listeners, the logger, the tracer, the metrics listener. */
const RESTART_ONLY: ReadonlyArray<[string, (c: Readonly<Config>) => unknown]> = [
  ['server.port', (c) => c.server.port],
  ['server.host', (c) => c.server.host],
  ['server.tls', (c) => c.server.tls],
  ['server.reusePort', (c) => c.server.reusePort],
  ['server.watchConfig', (c) => [c.server.watchConfig, c.server.watchConfigIntervalMs]],
  ['metrics', (c) => c.metrics],
  ['logging', (c) => c.logging],
  ['tracing', (c) => c.tracing],
];

/** The restart-only keys that differ between two configs. */
export function restartOnlyChanges(a: Readonly<Config>, b: Readonly<Config>): string[] {
  return RESTART_ONLY.filter(([, get]) => JSON.stringify(get(a)) !== JSON.stringify(get(b))).map(
    ([path]) => path,
  );
}

/** What the listener hands requests to: the app in force (a reload swaps it). */
export type Handlers = Pick<App, 'handleRequest' | 'handleUpgrade' | 'handleConnect'>;

export function createHttpServer(config: Readonly<Config>, app: Handlers): Server | HttpsServer {
  const options = {
    headersTimeout: config.server.headersTimeoutMs,
    // Uploads of any size: no cap on the whole request; idle sockets are bounded upstream-side.
    requestTimeout: 0,
    keepAliveTimeout: config.server.keepAliveTimeoutMs,
    // Keep the client's header case and repeats; we read rawHeaders, not the joined object.
    joinDuplicateHeaders: false,
  };
  const tls = config.server.tls;
  // HTTPS: the same server with TLS underneath (an https.Server is an http.Server's kin with
  // the same request, upgrade and connect events).
  const server: Server | HttpsServer = tls
    ? createHttpsServer({
        ...options,
        ...readTlsFiles(tls),
        requestCert: tls.clientCert !== 'none',
        rejectUnauthorized: tls.clientCert === 'required',
      })
    : createServer(options);
  server.on('request', app.handleRequest);
  // Expect: 100-continue: authenticate first, and let the upstream send the 100.
  server.on('checkContinue', app.handleRequest);
  server.on('upgrade', app.handleUpgrade);
  // Without a listener node drops CONNECT with no answer.
  server.on('connect', app.handleConnect);
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const typed =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? new AuthgateError('HEADERS_TOO_LARGE', { reason: 'header_overflow' })
        : new AuthgateError('BAD_REQUEST', {
            message: 'The request could not be parsed.',
            reason: err.code ?? 'parse_error',
          });
    sendErrorOnSocket(socket, typed, randomUUID());
  });
  return server;
}

/** How long a just-accepted connection has to send its request once the listener closed. */
const FRESH_CONNECTION_GRACE_MS = 250;

export async function startServer(
  config: Readonly<Config>,
  deps: AppDependencies,
  listen: {
    port?: number;
    host?: string;
    metricsPort?: number;
    /** false: no metrics listener here (a cluster worker: the primary serves the aggregate). */
    metricsListener?: boolean;
  } = {},
): Promise<RunningServer> {
  const runtime = await buildRuntime(config, {
    // The server owns its process: the stream memory guard is on unless a caller chose.
    memoryGuard: new StreamMemoryGuard(config.proxy.streamGcEveryMb * 1024 * 1024),
    ...deps,
  });
  const { metrics } = runtime;
  // The app in force; a reload replaces it, the listener reads it for every request.
  let current = runtime;
  let currentConfig = config;
  const retiring = new Set<Promise<void>>();
  const live: Handlers = {
    handleRequest: (req, res) => current.app.handleRequest(req, res),
    handleUpgrade: (req, socket, head) => current.app.handleUpgrade(req, socket, head),
    handleConnect: (req, socket) => current.app.handleConnect(req, socket),
  };
  let server: Server;
  try {
    server = createHttpServer(config, live);
  } catch (err) {
    // A certificate that cannot be read: nothing may keep the process alive.
    await runtime.close();
    throw err;
  }
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // In a cluster worker with reusePort the worker binds the port itself (exclusive) and the
      // kernel spreads connections; otherwise the primary hands them out round-robin.
      const reusePort = config.server.reusePort && cluster.isWorker;
      server.listen(
        {
          port: listen.port ?? config.server.port,
          host: listen.host ?? config.server.host,
          ...(reusePort ? { reusePort: true, exclusive: true } : {}),
        },
        () => {
          server.off('error', reject);
          resolve();
        },
      );
    });
  } catch (err) {
    // Nothing may keep a process alive that could not listen (Redis, timers, pools).
    await runtime.close();
    throw err;
  }
  // Certificate rotation without a restart: the files are re-read when they change.
  const tls = config.server.tls;
  const stopTlsWatch = tls
    ? watchTlsFiles(
        tls,
        (material) => (server as HttpsServer).setSecureContext(material),
        deps.clock ?? systemClock,
        deps.logger,
      )
    : undefined;
  const port = (server.address() as AddressInfo).port;
  const wantMetricsPort = listen.metricsPort ?? config.metrics.port;
  let metricsServer: Server | undefined;
  if (config.metrics.port !== 0 && listen.metricsListener !== false) {
    metricsServer = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method === 'GET' && path === config.metrics.path) {
        void metrics.serve(req, res, config.metrics.bearerToken);
      } else if (current.asserter && isJwksRequest(req, config)) {
        sendJwks(res, current.asserter);
      } else {
        sendNotFound(req, res);
      }
    });
    await new Promise<void>((resolve, reject) => {
      metricsServer!.once('error', (err) => {
        server.close();
        void runtime.close();
        reject(err);
      });
      metricsServer!.listen(wantMetricsPort, listen.host ?? config.server.host, () => resolve());
    });
  }
  const metricsPort = metricsServer ? (metricsServer.address() as AddressInfo).port : port;
  let shuttingDown: Promise<boolean> | undefined;

  const shutdown = (drainDelayMs = config.server.drainDelayMs): Promise<boolean> => {
    shuttingDown ??= (async () => {
      // docs/design.md#health-and-shutdown: readiness 503 at once while everything is still served for drainDelayMs
      // (the load balancer deregisters us meanwhile); then stop accepting, close idle
      // keep-alive connections, and give requests in flight shutdownGraceMs to finish.
      stopTlsWatch?.();
      current.app.startDraining();
      await new Promise((resolve) => setTimeout(resolve, drainDelayMs));
      current.app.startClosing();
      // Stop accepting, but not http.Server#close, which also closes idle connections at once:
      // a connection accepted a moment ago has not sent its request yet and counts as idle,
      // so its client would see a reset. It gets FRESH_CONNECTION_GRACE_MS to send it (and
      // is answered with Connection: close); then whatever is still idle is closed.
      const closed = new Promise<void>((resolve) =>
        NetServer.prototype.close.call(server, () => resolve()),
      );
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(FRESH_CONNECTION_GRACE_MS, config.server.shutdownGraceMs)),
      );
      server.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      const drained = await Promise.race([
        Promise.all([current.app.idle(), ...retiring]).then(() => true),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), config.server.shutdownGraceMs);
        }),
      ]);
      clearTimeout(timer);
      current.app.stop();
      server.closeAllConnections();
      current.app.close(); // WebSocket tunnels and upstream pools
      await closed;
      if (metricsServer) {
        metricsServer.closeAllConnections();
        await new Promise<void>((resolve) => metricsServer!.close(() => resolve()));
      }
      await current.close();
      deps.logger.flush();
      return drained;
    })();
    return shuttingDown;
  };

  const reload = async (next: Readonly<Config>, hash: string): Promise<ReloadResult> => {
    const refuse = (problems: string[]): ReloadResult => {
      metrics.configReloads.labels('failure').inc();
      deps.logger.error('config reload failed; the running config stays', { problems });
      return { ok: false, problems };
    };
    if (shuttingDown) return refuse(['authgate is shutting down']);
    const restart = restartOnlyChanges(currentConfig, next);
    if (restart.length > 0)
      return refuse(restart.map((path) => `${path} changed: it needs a restart`));
    let built;
    try {
      built = await buildRuntime(next, {
        memoryGuard: new StreamMemoryGuard(next.proxy.streamGcEveryMb * 1024 * 1024),
        ...deps,
        metrics,
        tracing: current.tracing,
      });
    } catch (err) {
      return refuse([err instanceof Error ? err.message : String(err)]);
    }
    const old = current;
    current = built;
    currentConfig = next;
    const done = old.retire().catch((err: unknown) => {
      deps.logger.warn('retiring the previous config failed', { reason: String(err) });
    });
    retiring.add(done);
    void done.finally(() => retiring.delete(done));
    metrics.configReloads.labels('success').inc();
    metrics.configInForce(hash);
    deps.logger.info('config reloaded', {
      hash,
      routes: next.routes.map((r) => r.name),
      in_flight_on_previous: old.app.inFlight(),
    });
    return { ok: true, problems: [] };
  };

  return {
    server,
    get app() {
      return current.app;
    },
    get config() {
      return currentConfig;
    },
    port,
    metricsPort,
    metrics,
    get auth() {
      return current.auth;
    },
    shutdown,
    reload,
  };
}
