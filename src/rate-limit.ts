/**
 * Per-route rate limits (`routes[].rateLimit`) as GCRA (the generic cell rate
 * algorithm: a token bucket kept as one number, the "theoretical arrival time"). A key may spend
 * `burst` requests at once and regains one every `60 / requestsPerMinute` seconds.
 *
 * - With Redis the decision is one atomic script call (one round trip) on one key, timed by the
 *   Redis server's clock, so every instance shares one limit and clock skew between hosts does
 *   not matter.
 * - Without Redis, or while it is down, each process decides alone. The limit it applies then is
 *   the route's `fallbackRequestsPerMinute` when set, else the limit divided by the number of
 *   authgate processes that were sharing Redis when it was last reachable (every process
 *   announces itself every few seconds), so N instances together stay near the global limit
 *   instead of silently allowing N times it.
 * - Every decision carries the IETF `RateLimit-Policy` / `RateLimit` fields
 *   (draft-ietf-httpapi-ratelimit-headers-09) beside `Retry-After`.
 */
import { LRUCache } from 'lru-cache';
import { hash, randomUUID } from 'node:crypto';
import { AuthgateError } from './errors';
import type { RawHeaders } from './headers/hop-by-hop';
import type { Logger } from './logging/logger';
import { evalScript, type RedisHandle } from './redis';
import { systemClock, type Clock } from './clock';
import type { RouteConfig } from './config/schema';

const MINUTE_US = 60_000_000;
const MAX_LOCAL_KEYS = 100_000;
/** How often a process announces itself in Redis, and how long an announcement counts. */
export const PEER_HEARTBEAT_MS = 5_000;
const PEER_TTL_MS = 20_000;

export interface RateLimitRule {
  /** The policy name in the RateLimit fields (the route name). */
  name: string;
  requestsPerMinute: number;
  burst: number;
  /** Applied per process while Redis is unreachable; undefined: the limit shared by the peers seen. */
  fallbackRequestsPerMinute?: number;
}

type RouteRateLimit = NonNullable<RouteConfig['rateLimit']>;
const rules = new WeakMap<RouteRateLimit, RateLimitRule>();

/** The rule of a route's `rateLimit` (built once per config object). */
export function rateLimitRule(name: string, limit: RouteRateLimit): RateLimitRule {
  let rule = rules.get(limit);
  if (!rule) {
    rule = {
      name,
      requestsPerMinute: limit.requestsPerMinute,
      burst: limit.burst ?? limit.requestsPerMinute,
      fallbackRequestsPerMinute: limit.fallbackRequestsPerMinute,
    };
    rules.set(limit, rule);
  }
  return rule;
}

export interface RateLimitDecision {
  allowed: boolean;
  /** Whole seconds until the next request would be allowed (0 when allowed). */
  retryAfterSec: number;
  /** Requests that could still be made right now. */
  remaining: number;
  /** Whole seconds until the full burst is available again. */
  resetSec: number;
  /** The burst size in force (the quota of the policy). */
  quota: number;
  /** Seconds of the policy window (60 per requestsPerMinute). */
  windowSec: number;
  /** Decided in this process alone (no Redis, or Redis unreachable). */
  local: boolean;
}

/** GCRA parameters in microseconds: emission interval and burst tolerance. */
export interface GcraParams {
  intervalUs: number;
  toleranceUs: number;
}

export function gcraParams(requestsPerMinute: number, burst: number): GcraParams {
  const intervalUs = MINUTE_US / requestsPerMinute;
  return { intervalUs, toleranceUs: intervalUs * (Math.max(1, burst) - 1) };
}

export interface GcraStep {
  allowed: boolean;
  /** The theoretical arrival time after this request (unchanged when refused). */
  tat: number;
}

/**
 * One GCRA step (pure; the Redis script is the same arithmetic): `tat` is the stored
 * theoretical arrival time, or undefined for a fresh key.
 */
export function gcraStep(tat: number | undefined, nowUs: number, p: GcraParams): GcraStep {
  const base = tat === undefined || tat < nowUs ? nowUs : tat;
  if (base - nowUs > p.toleranceUs) return { allowed: false, tat: base };
  return { allowed: true, tat: base + p.intervalUs };
}

/** What a GCRA state means for the client: remaining, reset, retry-after. */
export function gcraDecision(
  step: GcraStep,
  nowUs: number,
  p: GcraParams,
  burst: number,
  local: boolean,
): RateLimitDecision {
  const ahead = Math.max(0, step.tat - nowUs);
  const remaining = Math.max(0, Math.floor((p.toleranceUs + p.intervalUs - ahead) / p.intervalUs));
  const retryAfterUs = step.allowed ? 0 : ahead - p.toleranceUs;
  return {
    allowed: step.allowed,
    retryAfterSec: step.allowed ? 0 : Math.max(1, Math.ceil(retryAfterUs / 1e6)),
    remaining: Math.min(burst, remaining),
    resetSec: Math.ceil(ahead / 1e6),
    quota: burst,
    windowSec: Math.max(1, Math.round((p.intervalUs * burst) / 1e6)),
    local,
  };
}

/**
 * The Redis side: the same step as `gcraStep`, atomically, on the server's clock (TIME).
 * Numbers are microseconds, formatted with %.0f so Lua never prints them in exponent form.
 */
const GCRA_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
if tat - now > tolerance then
  return {0, string.format('%.0f', tat), string.format('%.0f', now)}
end
tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
return {1, string.format('%.0f', tat), string.format('%.0f', now)}`;

const PEERS_SCRIPT = `
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return redis.call('ZCARD', KEYS[1])`;

export interface RateLimiterOptions {
  redis?: RedisHandle;
  clock?: Clock;
  logger?: Logger;
}

export class RateLimiter {
  /**
   * Local theoretical arrival times, least recently used out first when full: a flood of new
   * keys pushes out idle ones, never every key at once (a throttled caller keeps its debt).
   * Made when a limit is first counted locally (its arrays for all of `max` come at once).
   */
  private local: LRUCache<string, number> | undefined;
  private readonly clock: Clock;
  private readonly instanceId = randomUUID();
  /** Processes sharing Redis when it was last reachable (this one included). */
  private peers = 1;
  private countingLocally = false;
  private stopHeartbeat: (() => void) | undefined;

  constructor(private readonly options: RateLimiterOptions = {}) {
    this.clock = options.clock ?? systemClock;
  }

  /** Starts announcing this process in Redis (for the outage fallback). No-op without Redis. */
  start(): void {
    if (!this.options.redis || this.stopHeartbeat) return;
    const redis = this.options.redis;
    // Counted at once on every (re)connect, then every few seconds.
    const onReady = (): void => void this.heartbeat();
    redis.client.on('ready', onReady);
    void this.heartbeat();
    const stopTimer = this.clock.every(PEER_HEARTBEAT_MS, onReady);
    this.stopHeartbeat = () => {
      stopTimer();
      redis.client.off('ready', onReady);
    };
  }

  stop(): void {
    this.stopHeartbeat?.();
    this.stopHeartbeat = undefined;
  }

  /** Processes seen sharing the limits at the last heartbeat. */
  get peersSeen(): number {
    return this.peers;
  }

  async heartbeat(): Promise<void> {
    const redis = this.options.redis;
    if (!redis?.isUp()) return;
    const now = this.clock.now();
    try {
      const count = await evalScript(
        redis.client,
        PEERS_SCRIPT,
        [`${redis.prefix}rl-peers`],
        [now, this.instanceId, now - PEER_TTL_MS, PEER_TTL_MS * 2],
      );
      if (typeof count === 'number' && count >= 1) this.peers = count;
    } catch {
      // Redis trouble is reported by the connection; the last count stays in force.
    }
  }

  /** The per-process rule while Redis is unreachable. */
  fallbackOf(
    rule: RateLimitRule,
    peers = this.peers,
  ): { requestsPerMinute: number; burst: number } {
    if (rule.fallbackRequestsPerMinute !== undefined) {
      const share = rule.fallbackRequestsPerMinute / rule.requestsPerMinute;
      return {
        requestsPerMinute: rule.fallbackRequestsPerMinute,
        burst: Math.max(1, Math.floor(rule.burst * share)),
      };
    }
    return {
      requestsPerMinute: Math.max(1, rule.requestsPerMinute / peers),
      burst: Math.max(1, Math.floor(rule.burst / peers)),
    };
  }

  async hit(rule: RateLimitRule, by: string, subject: string): Promise<RateLimitDecision> {
    const id = `${rule.name}:${by}:${hash('sha256', subject, 'base64url').slice(0, 22)}`;
    const redis = this.options.redis;
    if (redis?.isUp()) {
      const p = gcraParams(rule.requestsPerMinute, rule.burst);
      try {
        // The hash tag keeps the key on one slot in Redis Cluster.
        const res = (await evalScript(
          redis.client,
          GCRA_SCRIPT,
          [`${redis.prefix}rl:{${id}}`],
          [p.intervalUs, p.toleranceUs],
        )) as [number, string, string];
        this.localCounting(false);
        const step = { allowed: res[0] === 1, tat: Number(res[1]) };
        return gcraDecision(step, Number(res[2]), p, rule.burst, false);
      } catch {
        // Falls through to the local decision.
      }
    }
    if (redis) this.localCounting(true);
    const fallback = redis
      ? this.fallbackOf(rule)
      : { requestsPerMinute: rule.requestsPerMinute, burst: rule.burst };
    const p = gcraParams(fallback.requestsPerMinute, fallback.burst);
    const nowUs = this.clock.now() * 1000;
    const step = gcraStep(this.local?.get(id), nowUs, p);
    if (step.allowed) this.remember(id, step.tat);
    return gcraDecision(step, nowUs, p, fallback.burst, true);
  }

  private remember(id: string, tat: number): void {
    (this.local ??= new LRUCache<string, number>({ max: MAX_LOCAL_KEYS })).set(id, tat);
  }

  /** One log line when limits start and stop being counted per process. */
  private localCounting(local: boolean): void {
    if (local === this.countingLocally) return;
    this.countingLocally = local;
    if (local) {
      this.options.logger?.warn('rate limits counted per process while redis is unreachable', {
        peers_seen: this.peers,
      });
    } else {
      this.options.logger?.info('rate limits shared through redis again', {});
    }
  }
}

/**
 * `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers-09): the policy's
 * quota `q` over window `w` seconds, and the remaining `r` with `t` seconds to a full reset.
 */
export function rateLimitHeaders(name: string, d: RateLimitDecision): RawHeaders {
  const policy = JSON.stringify(name);
  return [
    'RateLimit-Policy',
    `${policy};q=${d.quota};w=${d.windowSec}`,
    'RateLimit',
    `${policy};r=${d.remaining};t=${d.resetSec}`,
  ];
}

export function rateLimitedError(decision: RateLimitDecision, name: string): AuthgateError {
  const headers: Record<string, string> = { 'Retry-After': String(decision.retryAfterSec) };
  const fields = rateLimitHeaders(name, decision);
  for (let i = 0; i < fields.length; i += 2) headers[fields[i]!] = fields[i + 1]!;
  return new AuthgateError('RATE_LIMITED', { headers, reason: 'rate_limited' });
}
