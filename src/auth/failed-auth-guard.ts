/**
 * The failed-authentication guard (`auth.failedAuthGuard`, docs/design.md#configuration): failed
 * authentications are counted per client address over a fixed window; past `maxFailures` the
 * address gets 429 RATE_LIMITED with Retry-After *before* any signature check or auth-service
 * call, so a client guessing keys cannot load the auth service or burn CPU on signatures.
 *
 * The check is local and synchronous (no I/O on the hot path). With Redis, failures are also
 * counted there, shared by every instance: an instance learns an address is over the limit on
 * that address's next failure, so a client gets at most one more try per instance.
 */
import { hash } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { LRUCache } from 'lru-cache';
import type { Config } from '../config/schema';
import type { RedisHandle } from '../redis';
import { AuthgateError } from '../errors';

const MAX_TRACKED = 100_000;

type GuardSettings = Config['auth']['failedAuthGuard'];
/** The guard's settings; `ipv6PrefixLength` defaults to 64 as in the config schema. */
export type FailedAuthGuardConfig = Omit<GuardSettings, 'ipv6PrefixLength'> &
  Partial<Pick<GuardSettings, 'ipv6PrefixLength'>>;

interface Window {
  window: number;
  count: number;
}

/** The 8 groups of an IPv6 address as numbers (`::` expanded, an embedded IPv4 tail read). */
function ipv6Groups(address: string): number[] {
  let text = address.split('%')[0] as string;
  const lastColon = text.lastIndexOf(':');
  const v4 = text.slice(lastColon + 1);
  if (v4.includes('.')) {
    const [a = 0, b = 0, c = 0, d = 0] = v4.split('.').map(Number);
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? (text.split('::') as [string, string]) : [text, ''];
  const h = head === '' ? [] : head.split(':');
  const t = tail === '' ? [] : tail.split(':');
  const fill = text.includes('::') ? new Array<string>(8 - h.length - t.length).fill('0') : [];
  return [...h, ...fill, ...t].map((g) => parseInt(g, 16));
}

/**
 * The key a client address is counted under: an IPv4 address itself, an IPv6 address by its
 * network of `prefixLength` bits (one host may use a whole /64: counting per /128 lets it
 * guess forever).
 */
export function failureKey(address: string, prefixLength: number): string {
  // `includes(':')` first: the IPv6 parser's pattern is costly, and this runs per request.
  if (prefixLength >= 128 || !address.includes(':') || !isIPv6(address)) return address;
  const groups = ipv6Groups(address);
  const out: string[] = [];
  for (let i = 0; i < 8; i++) {
    const bits = Math.max(0, Math.min(16, prefixLength - i * 16));
    const mask = bits === 0 ? 0 : (0xffff << (16 - bits)) & 0xffff;
    out.push(((groups[i] ?? 0) & mask).toString(16));
  }
  return `${out.join(':')}/${prefixLength}`;
}

export class FailedAuthGuard {
  /**
   * Failures per address. Bounded, least recently used out first: a flood of new addresses
   * pushes out the oldest counters, never every counter at once. Made at the first failure: an
   * LRUCache allocates its arrays for all of `max` up front (~1 MB for 100,000), which a process
   * that never sees one need not hold.
   */
  private tracked: LRUCache<string, Window> | undefined;
  private readonly windowMs: number;
  private readonly prefixLength: number;

  constructor(
    private readonly config: Readonly<FailedAuthGuardConfig>,
    private readonly redis: RedisHandle | undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.windowMs = config.windowSec * 1000;
    this.prefixLength = config.ipv6PrefixLength ?? 64;
  }

  get enabled(): boolean {
    return this.config.maxFailures > 0;
  }

  private windowOf(now: number): number {
    return Math.floor(now / this.windowMs);
  }

  private retryAfterSec(now: number): number {
    const end = (this.windowOf(now) + 1) * this.windowMs;
    return Math.max(1, Math.ceil((end - now) / 1000));
  }

  /** Throws 429 when `address` is past the limit in the current window. */
  check(address: string): void {
    if (!this.enabled) return;
    const now = this.now();
    const entry = this.tracked?.get(failureKey(address, this.prefixLength));
    if (entry && entry.window === this.windowOf(now) && entry.count >= this.config.maxFailures) {
      throw new AuthgateError('RATE_LIMITED', {
        message: 'Too many failed authentications from this address; retry later.',
        headers: { 'Retry-After': String(this.retryAfterSec(now)) },
        reason: 'failed_auth_guard',
      });
    }
  }

  /**
   * Counts one failed authentication of `address` (locally, and in Redis when it is up).
   * Resolves true when this failure is the one that blocks the address (logged once, by the
   * caller).
   */
  async recordFailure(clientAddress: string): Promise<boolean> {
    if (!this.enabled) return false;
    const address = failureKey(clientAddress, this.prefixLength);
    const now = this.now();
    const window = this.windowOf(now);
    const counts = (this.tracked ??= new LRUCache<string, Window>({ max: MAX_TRACKED }));
    let entry = counts.get(address);
    if (!entry || entry.window !== window) {
      entry = { window, count: 0 };
      counts.set(address, entry);
    }
    const wasBlocked = entry.count >= this.config.maxFailures;
    entry.count++;
    const blocks = (): boolean => !wasBlocked && entry.count >= this.config.maxFailures;
    const redis = this.redis;
    if (!redis?.isUp()) return blocks();
    try {
      const key = `${redis.prefix}authfail:${hash('sha256', address, 'base64url').slice(0, 22)}:${window}`;
      const res = await redis.client
        .multi()
        .incr(key)
        .pexpire(key, this.windowMs * 2)
        .exec();
      const shared = res?.[0]?.[1];
      if (typeof shared === 'number' && entry.window === window && shared > entry.count) {
        entry.count = shared;
      }
    } catch {
      // Redis down: the local count still guards this instance.
    }
    return blocks();
  }
}
