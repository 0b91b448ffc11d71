/**
 * One keep-alive agent per upstream origin, shared by the routes that point at it. Sockets are
 * bounded, reused LIFO (so surplus sockets go idle and expire), and closed after an idle time
 * below the upstream's own keep-alive timeout, which avoids racing the upstream's close.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Upstream } from '../routes/route-table';

export interface PoolOptions {
  maxSocketsPerUpstream: number;
  idleSocketTimeoutMs: number;
}

export class UpstreamPools {
  private readonly agents = new Map<string, HttpAgent>();
  constructor(private readonly options: PoolOptions) {}

  agentFor(upstream: Upstream): HttpAgent {
    let agent = this.agents.get(upstream.origin);
    if (!agent) {
      const opts = {
        keepAlive: true,
        maxSockets: this.options.maxSocketsPerUpstream,
        maxFreeSockets: this.options.maxSocketsPerUpstream,
        timeout: this.options.idleSocketTimeoutMs,
        scheduling: 'lifo' as const,
      };
      agent = upstream.protocol === 'https:' ? new HttpsAgent(opts) : new HttpAgent(opts);
      this.agents.set(upstream.origin, agent);
    }
    return agent;
  }

  destroy(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }
}
