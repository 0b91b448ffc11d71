/**
 * Drain and in-flight bookkeeping (docs/design.md#health-and-shutdown) as one small object: the shutdown phase (serving →
 * draining → closing → stopped, each implying the ones before), the requests in flight, and the
 * upgraded sockets the HTTP server no longer tracks.
 */
import type { Duplex } from 'node:stream';

const PHASES = ['serving', 'draining', 'closing', 'stopped'] as const;
export type Phase = (typeof PHASES)[number];

export class Lifecycle {
  private phase = 0;
  private inFlightCount = 0;
  private idleWaiters: Array<() => void> = [];
  /** Upgraded sockets: no longer tracked by the HTTP server, so closed by us on shutdown. */
  private readonly tunnels = new Set<Duplex>();

  /** Has shutdown reached `p` (or a later phase)? */
  past(p: Phase): boolean {
    return this.phase >= PHASES.indexOf(p);
  }

  /** Moves forward to `p`; never back. */
  enter(p: Phase): void {
    this.phase = Math.max(this.phase, PHASES.indexOf(p));
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

  requestStarted(): void {
    this.inFlightCount++;
  }

  requestDone(): void {
    this.inFlightCount--;
    if (this.inFlightCount === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Resolves once no request is in flight. */
  idle(): Promise<void> {
    if (this.inFlightCount === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  trackTunnel(socket: Duplex): void {
    this.tunnels.add(socket);
    socket.once('close', () => this.tunnels.delete(socket));
  }

  destroyTunnels(): void {
    for (const socket of this.tunnels) socket.destroy();
  }
}
