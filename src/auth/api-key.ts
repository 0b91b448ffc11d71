/**
 * API-key authenticator: in-process LRU → Redis → auth service, keyed by an HMAC of the key
 * (the raw key never reaches Redis, logs or metrics). Positive answers are cached for
 * cacheTtlSec (never past the key's expires_at), negative ones for negativeCacheTtlSec, in a
 * cache of their own (negativeCacheSize), so random bad keys never push valid ones out.
 * Concurrent lookups of one key share one call. Revocation deletes the Redis entry and
 * publishes the key id, and every instance drops it from its LRU.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock';
import { ENTRY_OVERHEAD_BYTES, stringBytes, stringsBytes } from './cache-bytes';
import { hmacSha256 } from './fast-hmac';
import { LRUCache } from 'lru-cache';
import type { ApiKeysConfig } from '../config/schema';
import { fingerprint } from '../logging/mask';
import { AuthgateError } from '../errors';
import type { Logger } from '../logging/logger';
import { evalScript, subscribeWithRetry, type RedisHandle } from '../redis';
import { SpanKind, withSpan } from '../tracing/tracing';
import type { Principal, RequestScope } from '../request-scope';
import { ApiKeyService, parseVerdict, verdictToJson, type KeyVerdict } from './api-key-service';
import {
  NOT_RESPONSIBLE,
  type AuthResult,
  type Authenticator,
  type AuthenticatorModule,
} from './authenticator';
import { NOOP_OBSERVER, type AuthObserver } from './observer';
import {
  GENERATION_TTL_SEC,
  KEY_ID_MESSAGE,
  REVOCATION_CHANNEL,
  SET_IF_GENERATION,
  generationKeyFor,
  keyIdIndexFor,
  redisKeyFor,
  revokeInRedis,
} from './api-key-store';

export {
  KEY_ID_MESSAGE,
  REVOCATION_CHANNEL,
  generationKeyFor,
  keyIdIndexFor,
  redisKeyFor,
  revokeInRedis,
  revokeKeyIdInRedis,
} from './api-key-store';

interface CacheEntry {
  verdict: KeyVerdict;
  /** epoch ms after which the entry is stale */
  until: number;
}

/** The estimate a valid verdict counts for against `cacheMaxMb`. */
export function verdictBytes(verdict: KeyVerdict): number {
  if (!verdict.valid) return ENTRY_OVERHEAD_BYTES;
  return (
    ENTRY_OVERHEAD_BYTES +
    stringBytes(verdict.userId) +
    stringBytes(verdict.keyId) +
    stringsBytes(verdict.scopes) +
    stringsBytes(verdict.tenantIds)
  );
}

export function apiKeyId(hashSecret: Buffer | string, apiKey: string): string {
  return hmacSha256(hashSecret)(apiKey);
}

export interface ApiKeyAuthenticatorOptions {
  logger: Logger;
  observer?: AuthObserver;
  redis?: RedisHandle;
  now?: () => number;
  /** Drives the auth-service probe timer (system clock when absent). */
  clock?: Clock;
}

export class ApiKeyAuthenticator implements Authenticator {
  readonly method = 'api_key' as const;
  readonly service: ApiKeyService;
  private readonly hashSecret: Buffer;
  private readonly idOf: (apiKey: string) => string;
  /** Valid verdicts. */
  private readonly memory: LRUCache<string, CacheEntry>;
  /** Invalid verdicts, apart: a flood of bad keys evicts only bad keys. */
  private readonly negative: LRUCache<string, CacheEntry>;
  private readonly inflight = new Map<string, Promise<KeyVerdict>>();
  /** Local revocation generations (bumped by revoke() and by pub/sub revocations). */
  private readonly generations: LRUCache<string, number>;
  private negativeSweptAt = 0;
  private stopSubscribing: (() => void) | undefined;
  private readonly observer: AuthObserver;
  private readonly now: () => number;

  constructor(
    private readonly config: Readonly<ApiKeysConfig>,
    private readonly options: ApiKeyAuthenticatorOptions,
  ) {
    this.observer = options.observer ?? NOOP_OBSERVER;
    const max = Math.max(1, config.cacheSize);
    this.now = options.now ?? Date.now;
    this.memory = new LRUCache<string, CacheEntry>({
      max,
      maxSize: config.cacheMaxMb * 1024 * 1024,
      sizeCalculation: (entry) => verdictBytes(entry.verdict),
    });
    // Invalid verdicts expire from the cache itself (on authgate's clock): stale ones are never
    // served and are swept out, so a burst of bad keys does not stay resident.
    this.negative = new LRUCache<string, CacheEntry>({
      max: Math.max(1, config.negativeCacheSize),
      ttl: config.negativeCacheTtlSec * 1000,
      perf: { now: this.now },
    });
    this.generations = new LRUCache<string, number>({ max });
    this.service = new ApiKeyService(config, this.observer, options.logger, options.clock);
    this.hashSecret = config.hashSecret ? Buffer.from(config.hashSecret) : randomBytes(32);
    this.idOf = hmacSha256(this.hashSecret);
    if (options.redis && !config.hashSecret) {
      options.logger.warn(
        'auth.apiKeys.hashSecret is not set: Redis entries are private to this instance',
        {},
      );
    }
  }

  /**
   * Subscribes to revocations from other instances (no I/O in the constructor). A failed
   * subscription is logged once and retried every second until it holds; ioredis re-subscribes
   * by itself after reconnects.
   */
  start(): void {
    const redis = this.options.redis;
    if (!redis || this.stopSubscribing) return;
    this.stopSubscribing = subscribeWithRetry(
      redis,
      `${redis.prefix}${REVOCATION_CHANNEL}`,
      (id) => {
        if (id.startsWith(KEY_ID_MESSAGE)) this.forgetKeyId(id.slice(KEY_ID_MESSAGE.length));
        else this.forget(id);
      },
      this.options.logger,
      'revocation',
    );
  }

  stop(): void {
    this.stopSubscribing?.();
    this.stopSubscribing = undefined;
    this.service.stop();
  }

  authenticate(_req: unknown, scope: RequestScope): AuthResult | Promise<AuthResult> {
    const apiKey = scope.credentials?.apiKey;
    if (apiKey === undefined) return NOT_RESPONSIBLE;
    if (!this.config.prefixes.some((p) => apiKey.startsWith(p))) {
      throw new AuthgateError('API_KEY_INVALID', {
        bearerError: 'invalid_token',
        reason: 'bad_prefix',
        details: { key_fingerprint: fingerprint(apiKey) },
      });
    }
    const id = this.idOf(apiKey);
    const hit = this.memory.get(id) ?? this.negative.get(id);
    if (hit && hit.until > this.now()) {
      this.observer.apiKeyCache('memory', hit.verdict.valid ? 'hit' : 'negative_hit');
      return this.toPrincipal(hit.verdict, apiKey);
    }
    this.observer.apiKeyCache('memory', 'miss');
    let pending = this.inflight.get(id);
    if (!pending) {
      pending = this.lookup(id, apiKey).finally(() => this.inflight.delete(id));
      this.inflight.set(id, pending);
    }
    return pending.then((verdict) => this.toPrincipal(verdict, apiKey));
  }

  verified(scope: RequestScope): Principal | undefined {
    const apiKey = scope.credentials?.apiKey;
    if (apiKey === undefined || !this.config.prefixes.some((p) => apiKey.startsWith(p)))
      return undefined;
    const hit = this.memory.get(this.idOf(apiKey));
    return hit && hit.until > this.now() ? this.principalOf(hit.verdict) : undefined;
  }

  /** The principal of a verdict that is valid and not expired; undefined otherwise. */
  private principalOf(verdict: KeyVerdict): Principal | undefined {
    if (
      !verdict.valid ||
      (verdict.expiresAt !== undefined && verdict.expiresAt * 1000 <= this.now())
    )
      return undefined;
    return {
      userId: verdict.userId,
      tenantIds: verdict.tenantIds,
      scopes: verdict.scopes,
      authMethod: 'api_key',
      expiresAt: verdict.expiresAt,
      keyId: verdict.keyId,
    };
  }

  private toPrincipal(verdict: KeyVerdict, apiKey: string): Principal {
    const principal = this.principalOf(verdict);
    if (principal) return principal;
    throw new AuthgateError('API_KEY_INVALID', {
      bearerError: 'invalid_token',
      reason: 'invalid_key',
      // Which key it was, comparable across lines, never the key.
      details: { key_fingerprint: fingerprint(apiKey) },
    });
  }

  private ttlMs(verdict: KeyVerdict): number {
    if (!verdict.valid) return this.config.negativeCacheTtlSec * 1000;
    const ttl = this.config.cacheTtlSec * 1000;
    if (verdict.expiresAt === undefined) return ttl;
    return Math.max(0, Math.min(ttl, verdict.expiresAt * 1000 - this.now()));
  }

  private remember(id: string, verdict: KeyVerdict): void {
    const ttl = this.ttlMs(verdict);
    if (ttl <= 0) return;
    if (verdict.valid) {
      this.memory.set(id, { verdict, until: this.now() + ttl });
      return;
    }
    // Sweep expired invalid verdicts at most once per TTL (here, not on a timer).
    const now = this.now();
    if (now - this.negativeSweptAt >= ttl) {
      this.negativeSweptAt = now;
      this.negative.purgeStale();
    }
    this.negative.set(id, { verdict, until: now + ttl });
  }

  /** How many invalid verdicts are held (tests and diagnostics). */
  get negativeEntries(): number {
    return this.negative.size;
  }

  /** Bytes the valid-verdict cache holds, by the estimate that bounds it. */
  get cachedBytes(): number {
    return this.memory.calculatedSize;
  }

  /** Drops every cached verdict the auth service gave with this `key_id` (api-key revoke KEY_ID). */
  private forgetKeyId(keyId: string): void {
    for (const [id, entry] of this.memory.entries())
      if (entry.verdict.valid && entry.verdict.keyId === keyId) this.forget(id);
  }

  /** Drops a key id from this instance and bumps its generation, so no lookup in flight caches it. */
  private forget(id: string): void {
    this.memory.delete(id);
    this.negative.delete(id);
    this.generations.set(id, (this.generations.get(id) ?? 0) + 1);
  }

  private async lookup(id: string, apiKey: string): Promise<KeyVerdict> {
    const started = performance.now();
    const localGeneration = this.generations.get(id) ?? 0;
    try {
      const { verdict: cached, generation } = await this.fromRedis(id);
      if (this.revokedSince(id, localGeneration)) return { valid: false };
      if (cached) {
        this.remember(id, cached);
        return cached;
      }
      const verdict = await this.service.validate(apiKey);
      // Revoked while the service was asked: the revocation wins, nothing is cached.
      if (this.revokedSince(id, localGeneration)) return { valid: false };
      this.remember(id, verdict);
      await this.toRedis(id, verdict, generation);
      return verdict;
    } finally {
      this.observer.tokenValidation('api_key', (performance.now() - started) / 1000);
    }
  }

  private revokedSince(id: string, generation: number): boolean {
    return (this.generations.get(id) ?? 0) !== generation;
  }

  /** The cached verdict (validated like a service answer) and the key's revocation generation. */
  private async fromRedis(
    id: string,
  ): Promise<{ verdict: KeyVerdict | undefined; generation: string | undefined }> {
    const redis = this.options.redis;
    if (!redis?.isUp()) return { verdict: undefined, generation: undefined };
    try {
      // A lookup after the in-process cache missed: its own span in a traced request.
      const [raw, generation] = await withSpan(
        'redis api-key lookup',
        SpanKind.CLIENT,
        { 'db.system.name': 'redis', 'db.operation.name': 'MGET' },
        () => redis.client.mget(redisKeyFor(redis.prefix, id), generationKeyFor(redis.prefix, id)),
      );
      const gen = generation ?? '0';
      if (raw === null || raw === undefined) {
        this.observer.apiKeyCache('redis', 'miss');
        return { verdict: undefined, generation: gen };
      }
      const parsed = parseVerdict(JSON.parse(raw));
      if ('breach' in parsed) {
        this.observer.apiKeyCache('redis', 'error');
        return { verdict: undefined, generation: gen };
      }
      this.observer.apiKeyCache('redis', parsed.verdict.valid ? 'hit' : 'negative_hit');
      return { verdict: parsed.verdict, generation: gen };
    } catch {
      this.observer.apiKeyCache('redis', 'error');
      return { verdict: undefined, generation: undefined };
    }
  }

  private async toRedis(
    id: string,
    verdict: KeyVerdict,
    generation: string | undefined,
  ): Promise<void> {
    const redis = this.options.redis;
    const ttl = Math.ceil(this.ttlMs(verdict) / 1000);
    // Without the generation read before the lookup, a write could undo a revocation: skip it.
    if (!redis?.isUp() || ttl <= 0 || generation === undefined) return;
    try {
      await evalScript(
        redis.client,
        SET_IF_GENERATION,
        [redisKeyFor(redis.prefix, id), generationKeyFor(redis.prefix, id)],
        [generation, JSON.stringify(verdictToJson(verdict)), ttl],
      );
      // Which cache entries belong to a service key_id, for `api-key revoke KEY_ID`.
      if (verdict.valid && verdict.keyId !== undefined) {
        const index = keyIdIndexFor(redis.prefix, verdict.keyId);
        await redis.client.multi().sadd(index, id).expire(index, GENERATION_TTL_SEC).exec();
      }
    } catch {
      this.observer.apiKeyCache('redis', 'error');
    }
  }

  /** Drops a key everywhere: this LRU, Redis, and (through pub/sub) every other instance. */
  async revoke(apiKey: string): Promise<void> {
    const id = this.idOf(apiKey);
    this.forget(id);
    const redis = this.options.redis;
    if (redis) await revokeInRedis(redis, id);
  }
}

/** Registration (auth/registry.ts): configured by `auth.apiKeys`. */
export const apiKeyModule: AuthenticatorModule = {
  method: 'api_key',
  headers: (config) =>
    config.auth.apiKeys ? [config.auth.apiKeys.header.toLowerCase(), 'authorization'] : [],
  build(config, deps) {
    if (!config.auth.apiKeys) return undefined;
    const clock = deps.clock;
    const apiKeys = new ApiKeyAuthenticator(config.auth.apiKeys, {
      logger: deps.logger,
      observer: deps.observer,
      redis: deps.redis,
      now: clock && (() => clock.now()),
      clock,
    });
    return {
      authenticator: apiKeys,
      start: () => {
        apiKeys.start();
        apiKeys.service.startProbe();
      },
      close: () => apiKeys.stop(),
    };
  },
};
