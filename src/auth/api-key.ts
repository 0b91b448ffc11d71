/**
 * API-key authenticator: in-process LRU → Redis → auth service, keyed by an HMAC of the key
 * (the raw key never reaches Redis, logs or metrics). Positive answers are cached for
 * cacheTtlSec (never past the key's expires_at), negative ones for negativeCacheTtlSec.
 * Concurrent lookups of one key share one call. Revocation deletes the Redis entry and
 * publishes the key id, and every instance drops it from its LRU.
 */
import { randomBytes } from 'node:crypto';
import { hmacSha256 } from './fast-hmac';
import { LRUCache } from 'lru-cache';
import type { ApiKeysConfig } from '../config/schema';
import { AuthgateError } from '../errors';
import type { Logger } from '../logging/logger';
import type { RedisHandle } from '../redis';
import type { Principal, RequestScope } from '../request-scope';
import { ApiKeyService, type KeyVerdict } from './api-key-service';
import { NOT_RESPONSIBLE, type AuthResult, type Authenticator } from './authenticator';
import { NOOP_OBSERVER, type AuthObserver } from './observer';

export const REVOCATION_CHANNEL = 'apikey-revocations';

interface CacheEntry {
  verdict: KeyVerdict;
  /** epoch ms after which the entry is stale */
  until: number;
}

export function apiKeyId(hashSecret: Buffer | string, apiKey: string): string {
  return hmacSha256(hashSecret)(apiKey);
}

export function redisKeyFor(prefix: string, id: string): string {
  return `${prefix}apikey:${id}`;
}

export interface ApiKeyAuthenticatorOptions {
  logger: Logger;
  observer?: AuthObserver;
  redis?: RedisHandle;
  now?: () => number;
}

export class ApiKeyAuthenticator implements Authenticator {
  readonly method = 'api_key' as const;
  readonly service: ApiKeyService;
  private readonly hashSecret: Buffer;
  private readonly idOf: (apiKey: string) => string;
  private readonly memory = new LRUCache<string, CacheEntry>({ max: 100_000 });
  private readonly inflight = new Map<string, Promise<KeyVerdict>>();
  private readonly observer: AuthObserver;
  private readonly now: () => number;

  constructor(
    private readonly config: Readonly<ApiKeysConfig>,
    private readonly options: ApiKeyAuthenticatorOptions,
  ) {
    this.observer = options.observer ?? NOOP_OBSERVER;
    this.now = options.now ?? Date.now;
    this.service = new ApiKeyService(config, this.observer);
    this.hashSecret = config.hashSecret ? Buffer.from(config.hashSecret) : randomBytes(32);
    this.idOf = hmacSha256(this.hashSecret);
    if (options.redis && !config.hashSecret) {
      options.logger.warn(
        'auth.apiKeys.hashSecret is not set: Redis entries are private to this instance',
        {},
      );
    }
    const channel = `${options.redis?.prefix ?? ''}${REVOCATION_CHANNEL}`;
    options.redis?.subscriber.subscribe(channel).catch(() => undefined);
    options.redis?.subscriber.on('message', (ch: string, id: string) => {
      if (ch === channel) this.memory.delete(id);
    });
  }

  authenticate(_req: unknown, scope: RequestScope): AuthResult | Promise<AuthResult> {
    const apiKey = scope.credentials?.apiKey;
    if (apiKey === undefined) return NOT_RESPONSIBLE;
    if (!this.config.prefixes.some((p) => apiKey.startsWith(p))) {
      throw new AuthgateError('API_KEY_INVALID', {
        bearerError: 'invalid_token',
        reason: 'bad_prefix',
      });
    }
    const id = this.idOf(apiKey);
    const hit = this.memory.get(id);
    if (hit && hit.until > this.now()) {
      this.observer.apiKeyCache('memory', hit.verdict.valid ? 'hit' : 'negative_hit');
      return this.toPrincipal(hit.verdict);
    }
    this.observer.apiKeyCache('memory', 'miss');
    let pending = this.inflight.get(id);
    if (!pending) {
      pending = this.lookup(id, apiKey).finally(() => this.inflight.delete(id));
      this.inflight.set(id, pending);
    }
    return pending.then((verdict) => this.toPrincipal(verdict));
  }

  private toPrincipal(verdict: KeyVerdict): Principal {
    if (
      !verdict.valid ||
      (verdict.expiresAt !== undefined && verdict.expiresAt * 1000 <= this.now())
    ) {
      throw new AuthgateError('API_KEY_INVALID', {
        bearerError: 'invalid_token',
        reason: 'invalid_key',
      });
    }
    return {
      userId: verdict.userId,
      tenantIds: verdict.tenantIds,
      scopes: verdict.scopes,
      authMethod: 'api_key',
      expiresAt: verdict.expiresAt,
    };
  }

  private ttlMs(verdict: KeyVerdict): number {
    if (!verdict.valid) return this.config.negativeCacheTtlSec * 1000;
    const ttl = this.config.cacheTtlSec * 1000;
    if (verdict.expiresAt === undefined) return ttl;
    return Math.max(0, Math.min(ttl, verdict.expiresAt * 1000 - this.now()));
  }

  private remember(id: string, verdict: KeyVerdict): void {
    const ttl = this.ttlMs(verdict);
    if (ttl > 0) this.memory.set(id, { verdict, until: this.now() + ttl });
  }

  private async lookup(id: string, apiKey: string): Promise<KeyVerdict> {
    const started = performance.now();
    try {
      const cached = await this.fromRedis(id);
      if (cached) {
        this.remember(id, cached);
        return cached;
      }
      const verdict = await this.service.validate(apiKey);
      this.remember(id, verdict);
      await this.toRedis(id, verdict);
      return verdict;
    } finally {
      this.observer.tokenValidation('api_key', (performance.now() - started) / 1000);
    }
  }

  private async fromRedis(id: string): Promise<KeyVerdict | undefined> {
    const redis = this.options.redis;
    if (!redis?.isUp()) return undefined;
    try {
      const raw = await redis.client.get(redisKeyFor(redis.prefix, id));
      if (raw === null) {
        this.observer.apiKeyCache('redis', 'miss');
        return undefined;
      }
      const verdict = JSON.parse(raw) as KeyVerdict;
      this.observer.apiKeyCache('redis', verdict.valid ? 'hit' : 'negative_hit');
      return verdict;
    } catch {
      this.observer.apiKeyCache('redis', 'error');
      return undefined;
    }
  }

  private async toRedis(id: string, verdict: KeyVerdict): Promise<void> {
    const redis = this.options.redis;
    const ttl = Math.ceil(this.ttlMs(verdict) / 1000);
    if (!redis?.isUp() || ttl <= 0) return;
    try {
      await redis.client.set(redisKeyFor(redis.prefix, id), JSON.stringify(verdict), 'EX', ttl);
    } catch {
      this.observer.apiKeyCache('redis', 'error');
    }
  }

  /** Drops a key everywhere: this LRU, Redis, and (through pub/sub) every other instance. */
  async revoke(apiKey: string): Promise<void> {
    const id = this.idOf(apiKey);
    this.memory.delete(id);
    const redis = this.options.redis;
    if (redis) await revokeInRedis(redis, id);
  }
}

export async function revokeInRedis(
  redis: Pick<RedisHandle, 'client' | 'prefix'>,
  id: string,
): Promise<number> {
  await redis.client.del(redisKeyFor(redis.prefix, id));
  return redis.client.publish(`${redis.prefix}${REVOCATION_CHANNEL}`, id);
}
