/**
 * One undici connection pool per upstream origin (and connect timeout), shared by the routes
 * that point at it. Connections are bounded, kept alive for at most the idle time — and never
 * longer than the upstream's own `Keep-Alive: timeout`, less a margin — which avoids racing the
 * upstream's close. No pipelining: one request per connection at a time, as node's agent did.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Agent, Pool, buildConnector } from 'undici';
import type { RouteConfig } from '../config/schema';
import type { Clock } from '../clock';
import { watchFiles } from '../file-watch';
import type { Logger } from '../logging/logger';
import type { Upstream } from '../routes/route-table';

/** What authgate presents to and checks of an https upstream (`routes[].upstreamTls`). */
export interface UpstreamTlsOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  servername?: string;
}

/** Reads a route's upstream TLS files (at start: a file that cannot be read stops `serve`). */
export function upstreamTlsOptions(
  tls: RouteConfig['upstreamTls'],
  routeName: string,
): UpstreamTlsOptions | undefined {
  if (!tls) return undefined;
  const read = (file: string | undefined, what: string): Buffer | undefined => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(
        `routes.${routeName}.upstreamTls.${what} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
        { cause: err },
      );
    }
  };
  return {
    ca: read(tls.caFile, 'caFile'),
    cert: read(tls.certFile, 'certFile'),
    key: read(tls.keyFile, 'keyFile'),
    servername: tls.serverName,
  };
}

/**
 * A route's upstream TLS material as it is now: the files are re-read when they change
 * (file-watch.ts), and new connections use the new material; `version` counts the changes.
 */
export class UpstreamTls {
  private current: UpstreamTlsOptions;
  private changes = 0;
  private readonly stopWatch?: () => void;

  constructor(
    readonly name: string,
    config: NonNullable<RouteConfig['upstreamTls']>,
    watch?: { clock: Clock; logger: Logger; intervalMs: number },
  ) {
    this.current = upstreamTlsOptions(config, name) as UpstreamTlsOptions;
    if (watch) {
      this.stopWatch = watchFiles({
        files: [config.caFile, config.certFile, config.keyFile].filter(
          (f): f is string => f !== undefined,
        ),
        read: () => upstreamTlsOptions(config, name) as UpstreamTlsOptions,
        apply: (options) => {
          this.current = options;
          this.changes++;
        },
        clock: watch.clock,
        intervalMs: watch.intervalMs,
        logger: watch.logger,
        reloaded: 'upstream tls reloaded',
        failed: 'upstream tls reload failed; the current files keep being used',
        fields: { route: name },
      });
    }
  }

  get options(): UpstreamTlsOptions {
    return this.current;
  }

  get version(): number {
    return this.changes;
  }

  stop(): void {
    this.stopWatch?.();
  }
}

export interface PoolOptions {
  maxSocketsPerUpstream: number;
  idleSocketTimeoutMs: number;
}

/**
 * The connector of a route with upstream TLS: its CA and client certificate, and the server name
 * checked (and sent as SNI) fixed to `serverName`, else the upstream URL's host — undici would
 * otherwise take it from each request's Host header, which is the client's.
 */
function tlsConnector(upstream: Upstream, tls: UpstreamTls): buildConnector.connector {
  let version = -1;
  let connector: buildConnector.connector | undefined;
  return (opts, callback) => {
    if (connector === undefined || version !== tls.version) {
      // Rebuilt when the files changed: new connections present and check the new material.
      connector = buildConnector({ ...tls.options, rejectUnauthorized: true });
      version = tls.version;
    }
    const servername = upstreamServerName(upstream, tls.options);
    connector({ ...opts, servername: servername ?? opts.servername }, callback);
  };
}

/** An agent for authgate's own calls to one peer (the auth service) with the given TLS. */
export function tlsAgent(peer: Upstream, tls: UpstreamTls): Agent {
  return new Agent({ connect: tlsConnector(peer, tls) });
}

/**
 * The name an upstream's certificate is checked under (and sent as SNI), for HTTP requests and
 * WebSocket upgrades alike: the route's `serverName`, else the upstream URL's host name — never
 * the client's `Host`. Undefined for an IP address (checked against the certificate's IP SANs).
 */
export function upstreamServerName(
  upstream: Upstream,
  options: UpstreamTlsOptions,
): string | undefined {
  return options.servername ?? (isIP(upstream.hostname) === 0 ? upstream.hostname : undefined);
}

export class UpstreamPools {
  private readonly pools = new Map<string, Pool>();
  constructor(private readonly options: PoolOptions) {}

  /**
   * `tls` (with its `name`, the route's) gets its own pool: connections carry its identity.
   * `address`: connect to this resolved address (the upstream's name stays the TLS server name).
   */
  poolFor(upstream: Upstream, connectTimeoutMs: number, tls?: UpstreamTls, address?: string): Pool {
    const key = poolKey(upstream, connectTimeoutMs, tls?.name, address);
    let pool = this.pools.get(key);
    if (!pool) {
      const origin =
        address === undefined
          ? upstream.origin
          : `${upstream.protocol}//${isIP(address) === 6 ? `[${address}]` : address}:${upstream.port}`;
      pool = new Pool(origin, {
        connections: this.options.maxSocketsPerUpstream,
        pipelining: 1,
        keepAliveTimeout: this.options.idleSocketTimeoutMs,
        keepAliveMaxTimeout: this.options.idleSocketTimeoutMs,
        connectTimeout: connectTimeoutMs,
        // Verified always; never a plaintext fallback.
        ...(tls ? { connect: tlsConnector(upstream, tls) } : {}),
        // A body shorter or longer than its Content-Length is an error, never a second request.
        strictContentLength: true,
        // Timeouts are set per request (the route's responseMs).
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      this.pools.set(key, pool);
    }
    return pool;
  }

  /** Closes the pool of an address that left DNS (requests in flight on it finish). */
  release(
    upstream: Upstream,
    connectTimeoutMs: number,
    tlsName: string | undefined,
    address: string,
  ): void {
    const key = poolKey(upstream, connectTimeoutMs, tlsName, address);
    const pool = this.pools.get(key);
    if (!pool) return;
    this.pools.delete(key);
    void pool.close().catch(() => undefined);
  }

  destroy(): void {
    for (const pool of this.pools.values()) void pool.destroy().catch(() => undefined);
    this.pools.clear();
  }

  /** Closes every pool once its requests are done (a reload retiring this app). */
  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.close().catch(() => undefined)));
  }
}

function poolKey(
  upstream: Upstream,
  connectTimeoutMs: number,
  tlsName: string | undefined,
  address: string | undefined,
): string {
  return `${upstream.origin} ${connectTimeoutMs}${tlsName ? ` ${tlsName}` : ''}${address ? ` @${address}` : ''}`;
}
