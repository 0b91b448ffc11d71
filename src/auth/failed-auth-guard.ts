/**
 * The failed-authentication guard (`auth.failedAuthGuard`, DESIGN §3, issue 8.10): failed
 * authentications are counted per client address over a fixed window; past `maxFailures` the
 * address gets 429 RATE_LIMITED with Retry-After *before* any signature check or auth-service
 * call, so a client guessing keys cannot load the auth service or burn CPU on signatures.
 *
 * The check is local and synchronous (no I/O on the hot path). With Redis, failures are also
 * counted there, shared by every instance: an instance learns an address is over the limit on
 * that address's next failure, so a client gets at most one more try per instance.
 */
import { hash } from 'node:crypto';
import type { Config } from '../config/schema';
import type { RedisHandle } from '../redis';
import { AuthgateError } from '../errors';

const MAX_TRACKED = 100_000;

export type FailedAuthGuardConfig = Config['auth']['failedAuthGuard'];

interface Window {
  window: number;
  count: number;
}

export class FailedAuthGuard {
  private readonly counts = new Map<string, Window>();
  private readonly windowMs: number;

  constructor(
    private readonly config: Readonly<FailedAuthGuardConfig>,
    private readonly redis: RedisHandle | undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.windowMs = config.windowSec * 1000;
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
    const entry = this.counts.get(address);
    if (entry && entry.window === this.windowOf(now) && entry.count >= this.config.maxFailures) {
      throw new AuthgateError('RATE_LIMITED', {
        message: 'Too many failed authentications from this address; retry later.',
        headers: { 'Retry-After': String(this.retryAfterSec(now)) },
        reason: 'failed_auth_guard',
      });
    }
  }

  /** Counts one failed authentication of `address` (locally, and in Redis when it is up). */
  async recordFailure(address: string): Promise<void> {
    if (!this.enabled) return;
    const now = this.now();
    const window = this.windowOf(now);
    let entry = this.counts.get(address);
    if (!entry || entry.window !== window) {
      if (this.counts.size >= MAX_TRACKED) this.evict(window);
      entry = { window, count: 0 };
      this.counts.set(address, entry);
    }
    entry.count++;
    const redis = this.redis;
    if (!redis?.isUp()) return;
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
  }

  private evict(window: number): void {
    for (const [k, v] of this.counts) if (v.window !== window) this.counts.delete(k);
    if (this.counts.size >= MAX_TRACKED) this.counts.clear();
  }
}
