/**
 * One undici connection pool per upstream origin (and connect timeout), shared by the routes
 * that point at it. Connections are bounded, kept alive for at most the idle time — and never
 * longer than the upstream's own `Keep-Alive: timeout`, less a margin — which avoids racing the
 * upstream's close. No pipelining: one request per connection at a time, as node's agent did.
 */
import { Pool } from 'undici';
import type { Upstream } from '../routes/route-table';

export interface PoolOptions {
  maxSocketsPerUpstream: number;
  idleSocketTimeoutMs: number;
}

export class UpstreamPools {
  private readonly pools = new Map<string, Pool>();
  constructor(private readonly options: PoolOptions) {}

  poolFor(upstream: Upstream, connectTimeoutMs: number): Pool {
    const key = `${upstream.origin} ${connectTimeoutMs}`;
    let pool = this.pools.get(key);
    if (!pool) {
      pool = new Pool(upstream.origin, {
        connections: this.options.maxSocketsPerUpstream,
        pipelining: 1,
        keepAliveTimeout: this.options.idleSocketTimeoutMs,
        keepAliveMaxTimeout: this.options.idleSocketTimeoutMs,
        connectTimeout: connectTimeoutMs,
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

  destroy(): void {
    for (const pool of this.pools.values()) void pool.destroy().catch(() => undefined);
    this.pools.clear();
  }
}
