/**
 * A route's upstream addresses (docs/design.md, "Several upstreams"): the URLs of `upstream` or
 * `upstreams`, each host name resolved to its addresses (re-resolved every `server.dns.refreshSec`).
 * Requests go round-robin over the addresses in service; an address that refuses connections
 * (or does not answer the connect in time) is left out for a while — 5 s, doubling while it keeps
 * refusing, at most 60 s — and the request goes to the next one. When every address is out, the one
 * that comes back first is tried anyway: a route answers 502 only when all of them refuse.
 *
 * One address (the usual case) is never left out: every request tries it, as a single upstream
 * always was. Host names that are IP literals or `localhost` are connected to as written.
 */
import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';
import type { Dispatcher } from 'undici';
import type { Clock } from '../clock';
import type { Logger } from '../logging/logger';
import type { Upstream } from '../routes/route-table';

/** One address requests can be sent to. */
export interface UpstreamTarget {
  /** The configured upstream (scheme, Host, base path, the name a TLS certificate is checked under). */
  readonly upstream: Upstream;
  /** The resolved address connected to; undefined: the upstream's own host name. */
  readonly address?: string;
  readonly dispatcher: Dispatcher;
}

/** What the forwarder asks of a route's addresses. */
export interface UpstreamChooser {
  /** The next address; never undefined (with all out, the one back first). */
  pick(): UpstreamTarget;
  /** The address refused the connection; true when another address may take the request. */
  refused(target: UpstreamTarget): boolean;
  /** The address answered: it is in service again. */
  answered(target: UpstreamTarget): void;
}

/** Connect errors that mean "this address takes no connections": nothing was sent. */
export const REFUSED_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'AUTHGATE_CONNECT_TIMEOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

export const LEAVE_OUT_MS = 5_000;
export const LEAVE_OUT_MAX_MS = 60_000;

/** Resolves a host name to its addresses (IPv4 first), in a stable order. */
export type Resolve = (hostname: string) => Promise<string[]>;

/** The system resolver (getaddrinfo), or the DNS servers of `server.dns.servers`. */
export function createResolve(servers: readonly string[] | undefined): Resolve {
  if (!servers || servers.length === 0) {
    return async (hostname) =>
      sortAddresses((await dns.lookup(hostname, { all: true })).map((a) => a.address));
  }
  const resolver = new dns.Resolver({ timeout: 2_000, tries: 2 });
  resolver.setServers([...servers]);
  return async (hostname) => {
    const [v4, v6] = await Promise.allSettled([
      resolver.resolve4(hostname),
      resolver.resolve6(hostname),
    ]);
    const found = [
      ...(v4.status === 'fulfilled' ? v4.value : []),
      ...(v6.status === 'fulfilled' ? v6.value : []),
    ];
    if (found.length === 0 && v4.status === 'rejected') throw v4.reason;
    return sortAddresses(found);
  };
}

function sortAddresses(list: string[]): string[] {
  return [...new Set(list)].sort((a, b) => isIP(a) - isIP(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** True for host names authgate resolves itself (not IP literals, not localhost). */
export function isResolvedName(hostname: string): boolean {
  return isIP(hostname) === 0 && hostname.toLowerCase() !== 'localhost';
}

interface Slot {
  readonly target: UpstreamTarget;
  /** Clock time until which the address is left out (0: in service). */
  outUntil: number;
  failures: number;
}

export interface UpstreamSetOptions {
  route: string;
  upstreams: readonly Upstream[];
  /** The connection pool for an upstream, connecting to `address` when given. */
  dispatcherFor(upstream: Upstream, address: string | undefined): Dispatcher;
  /** A pool no longer used (its address went out of DNS). */
  release(upstream: Upstream, address: string): void;
  clock: Clock;
  resolve: Resolve;
  /** How often names are resolved again. */
  refreshMs: number;
  logger: Logger;
  /** Counts an address left out. */
  onLeftOut?: (route: string) => void;
}

export class UpstreamSet implements UpstreamChooser {
  private slots: Slot[];
  private next = 0;
  /** Each named upstream's current addresses (undefined until first resolved). */
  private readonly addresses = new Map<Upstream, string[]>();
  private stopRefresh?: () => void;

  /** Settles once the names were first resolved (at once without names to resolve). */
  readonly ready: Promise<void>;

  constructor(private readonly o: UpstreamSetOptions) {
    this.slots = this.build(new Map());
    if (o.upstreams.some((u) => isResolvedName(u.hostname))) {
      this.ready = this.refresh();
      this.stopRefresh = o.clock.every(o.refreshMs, () => void this.refresh());
    } else {
      this.ready = Promise.resolve();
    }
  }

  /** The addresses requests go to now (`host:port` or `address:port`), for tests and diagnose. */
  get targets(): string[] {
    return this.slots.map(
      (s) => `${s.target.address ?? s.target.upstream.hostname}:${s.target.upstream.port}`,
    );
  }

  pick(): UpstreamTarget {
    const slots = this.slots;
    if (slots.length === 1) return (slots[0] as Slot).target;
    const now = this.o.clock.now();
    let back: Slot | undefined;
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[(this.next + i) % slots.length] as Slot;
      if (slot.outUntil <= now) {
        this.next = (this.next + i + 1) % slots.length;
        return slot.target;
      }
      if (!back || slot.outUntil < back.outUntil) back = slot;
    }
    return (back as Slot).target;
  }

  refused(target: UpstreamTarget): boolean {
    const slots = this.slots;
    if (slots.length === 1) return false;
    const slot = slots.find((s) => s.target === target);
    if (slot) {
      const now = this.o.clock.now();
      slot.failures++;
      const ms = Math.min(LEAVE_OUT_MS * 2 ** (slot.failures - 1), LEAVE_OUT_MAX_MS);
      slot.outUntil = now + ms;
      this.o.onLeftOut?.(this.o.route);
      this.o.logger.warn('upstream address left out', {
        route: this.o.route,
        address: `${target.address ?? target.upstream.hostname}:${target.upstream.port}`,
        for_ms: ms,
        reason: 'connect_refused',
      });
    }
    const now = this.o.clock.now();
    return slots.some((s) => s.outUntil <= now);
  }

  answered(target: UpstreamTarget): void {
    if (this.slots.length === 1) return;
    const slot = this.slots.find((s) => s.target === target);
    if (slot && slot.failures > 0) {
      slot.failures = 0;
      slot.outUntil = 0;
    }
  }

  stop(): void {
    this.stopRefresh?.();
    this.stopRefresh = undefined;
  }

  /** Resolves every named upstream again; a failure keeps the addresses known before. */
  async refresh(): Promise<void> {
    let changed = false;
    for (const upstream of this.o.upstreams) {
      if (!isResolvedName(upstream.hostname)) continue;
      let found: string[];
      try {
        found = await this.o.resolve(upstream.hostname);
      } catch (err) {
        this.o.logger.warn('upstream name not resolved', {
          route: this.o.route,
          host: upstream.hostname,
          error: (err as NodeJS.ErrnoException).code ?? String(err),
        });
        continue;
      }
      if (found.length === 0) continue;
      const before = this.addresses.get(upstream);
      if (before && before.join() === found.join()) continue;
      for (const gone of (before ?? []).filter((a) => !found.includes(a)))
        this.o.release(upstream, gone);
      this.addresses.set(upstream, found);
      changed = true;
    }
    if (!changed) return;
    const kept = new Map(
      this.slots.map((s) => [`${s.target.upstream.origin} ${s.target.address ?? ''}`, s]),
    );
    this.slots = this.build(kept);
    this.next = 0;
  }

  private build(kept: Map<string, Slot>): Slot[] {
    const slots: Slot[] = [];
    for (const upstream of this.o.upstreams) {
      const list = this.addresses.get(upstream) ?? [undefined];
      for (const address of list) {
        const old = kept.get(`${upstream.origin} ${address ?? ''}`);
        slots.push(
          old ?? {
            target: { upstream, address, dispatcher: this.o.dispatcherFor(upstream, address) },
            outUntil: 0,
            failures: 0,
          },
        );
      }
    }
    return slots;
  }
}
