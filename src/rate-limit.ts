/**
 * Per-route rate limits (`routes[].rateLimit`): a fixed one-minute window per principal, tenant
 * or client IP. Counted in Redis when configured (shared by all instances), in process
 * otherwise — and in process whenever Redis fails, so a Redis outage never blocks traffic.
 */
import { hash } from 'node:crypto';
import { AuthgateError } from './errors';
import type { RedisHandle } from './redis';

const WINDOW_MS = 60_000;
const MAX_LOCAL_KEYS = 100_000;

export interface RateLimitDecision {
  allowed: boolean;
  /** Seconds until the current window ends. */
  retryAfterSec: number;
}

export class RateLimiter {
  private readonly local = new Map<string, { window: number; count: number }>();

  constructor(
    private readonly redis: RedisHandle | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  private localHit(key: string, window: number): number {
    if (this.local.size > MAX_LOCAL_KEYS) {
      for (const [k, v] of this.local) if (v.window !== window) this.local.delete(k);
      if (this.local.size > MAX_LOCAL_KEYS) this.local.clear();
    }
    const entry = this.local.get(key);
    if (!entry || entry.window !== window) {
      this.local.set(key, { window, count: 1 });
      return 1;
    }
    return ++entry.count;
  }

  async hit(
    route: string,
    by: string,
    subject: string,
    limitPerMinute: number,
  ): Promise<RateLimitDecision> {
    const now = this.now();
    const window = Math.floor(now / WINDOW_MS);
    const retryAfterSec = Math.max(1, Math.ceil(((window + 1) * WINDOW_MS - now) / 1000));
    const id = `${route}:${by}:${hash('sha256', subject, 'base64url').slice(0, 22)}`;
    let count: number | undefined;
    const redis = this.redis;
    if (redis?.isUp()) {
      try {
        const key = `${redis.prefix}rl:${id}:${window}`;
        const res = await redis.client
          .multi()
          .incr(key)
          .pexpire(key, WINDOW_MS * 2)
          .exec();
        const incr = res?.[0]?.[1];
        if (typeof incr === 'number') count = incr;
      } catch {
        count = undefined;
      }
    }
    count ??= this.localHit(id, window);
    return { allowed: count <= limitPerMinute, retryAfterSec };
  }
}

export function rateLimitedError(retryAfterSec: number): AuthgateError {
  return new AuthgateError('RATE_LIMITED', {
    headers: { 'Retry-After': String(retryAfterSec) },
    reason: 'rate_limited',
  });
}
