/**
 * Server-side sessions (docs/browser-sign-in.md): the browser holds an opaque random id only;
 * the store keys on its SHA-256, so neither a Redis dump nor a `session list` yields a usable
 * cookie. In Redis (every instance sees a session, a restart keeps it) the record is sealed —
 * the provider's tokens are encrypted at rest; in process otherwise. Idle and absolute timeouts
 * are enforced on every read, on the one clock.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../../clock';
import type { Logger } from '../../logging/logger';
import { evalScript, subscribeWithRetry, type RedisHandle } from '../../redis';
import type { Sealer } from './seal';

export interface SessionRecord {
  userId: string;
  tenantIds: string[];
  scopes: string[];
  /** The provider's claims at sign-in (or the last refresh), for identity headers. */
  claims?: Record<string, unknown>;
  accessToken: string;
  refreshToken?: string;
  idToken?: string;
  /** epoch ms; undefined when the provider did not say */
  accessExpiresAt?: number;
  /** epoch ms */
  createdAt: number;
  lastSeenAt: number;
  absoluteExpiresAt: number;
}

/** What `authgate session list` shows: never the id itself, only a handle derived from it. */
export interface SessionSummary {
  handle: string;
  userId: string;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
}

export interface SessionTimeouts {
  idleTimeoutSec: number;
  absoluteTimeoutSec: number;
}

export interface SessionStore {
  readonly kind: 'redis' | 'memory';
  /** The authoritative record (in Redis: read from Redis). */
  get(id: string): Promise<SessionRecord | undefined>;
  /**
   * The record for authenticating a request: in Redis, served for up to a few seconds from this
   * instance's memory; ending a session anywhere evicts it everywhere at once (pub/sub), and
   * the few seconds bound how long a lost eviction message can matter.
   */
  lookup(id: string): Promise<SessionRecord | undefined>;
  put(id: string, record: SessionRecord): Promise<void>;
  delete(id: string): Promise<SessionRecord | undefined>;
  list(userId: string): Promise<SessionSummary[]>;
  /** Ends every session of a user; returns how many. */
  revokeUser(userId: string): Promise<number>;
  /** Sessions not yet expired (for `authgate_sessions_active`). */
  active(): Promise<number>;
  /**
   * Runs `fn` while holding this session's lock — one holder across every instance sharing the
   * store. When another holder has it, waits until it is released and resolves with undefined
   * (the caller re-reads the session the holder updated).
   */
  exclusive<T>(id: string, fn: () => Promise<T>): Promise<T | undefined>;
  start?(logger: Logger): void;
  stop?(): void;
}

export function newSessionId(): string {
  return randomBytes(32).toString('base64url');
}

export function sessionHash(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}

/** When the record stops being valid (idle or absolute), epoch ms. */
export function sessionExpiry(record: SessionRecord, timeouts: SessionTimeouts): number {
  return Math.min(record.lastSeenAt + timeouts.idleTimeoutSec * 1000, record.absoluteExpiresAt);
}

function summary(hash: string, record: SessionRecord, timeouts: SessionTimeouts): SessionSummary {
  return {
    handle: hash.slice(0, 12),
    userId: record.userId,
    createdAt: record.createdAt,
    lastSeenAt: record.lastSeenAt,
    expiresAt: sessionExpiry(record, timeouts),
  };
}

const LOCK_MS = 15_000;
const LOCK_POLL_MS = 50;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class MemorySessionStore implements SessionStore {
  readonly kind = 'memory';
  private readonly sessions = new Map<string, SessionRecord>();
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    private readonly timeouts: SessionTimeouts,
    private readonly clock: Clock,
  ) {}

  private live(hash: string): SessionRecord | undefined {
    const record = this.sessions.get(hash);
    if (record && sessionExpiry(record, this.timeouts) <= this.clock.now()) {
      this.sessions.delete(hash);
      return undefined;
    }
    return record;
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    const record = this.live(sessionHash(id));
    return record && { ...record };
  }

  lookup(id: string): Promise<SessionRecord | undefined> {
    return this.get(id);
  }

  async put(id: string, record: SessionRecord): Promise<void> {
    this.sessions.set(sessionHash(id), { ...record });
  }

  async delete(id: string): Promise<SessionRecord | undefined> {
    const hash = sessionHash(id);
    const record = this.live(hash);
    this.sessions.delete(hash);
    return record;
  }

  async list(userId: string): Promise<SessionSummary[]> {
    const out: SessionSummary[] = [];
    for (const hash of [...this.sessions.keys()]) {
      const record = this.live(hash);
      if (record?.userId === userId) out.push(summary(hash, record, this.timeouts));
    }
    return out;
  }

  async revokeUser(userId: string): Promise<number> {
    let n = 0;
    for (const [hash, record] of [...this.sessions]) {
      if (record.userId === userId) {
        this.sessions.delete(hash);
        n++;
      }
    }
    return n;
  }

  async active(): Promise<number> {
    let n = 0;
    for (const hash of [...this.sessions.keys()]) if (this.live(hash)) n++;
    return n;
  }

  async exclusive<T>(id: string, fn: () => Promise<T>): Promise<T | undefined> {
    const hash = sessionHash(id);
    const held = this.locks.get(hash);
    if (held) {
      await held.catch(() => undefined);
      return undefined;
    }
    const running = fn();
    this.locks.set(hash, running);
    try {
      return await running;
    } finally {
      this.locks.delete(hash);
    }
  }
}

/** Deletes the lock only when it is still ours (it may have expired and been taken since). */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** How long an instance serves a session from memory between Redis reads. */
export const SESSION_CACHE_MS = 5000;
const EVICT_CHANNEL = 'session-evict';

export class RedisSessionStore implements SessionStore {
  readonly kind = 'redis';
  private readonly cache: LRUCache<string, SessionRecord>;
  private unsubscribe?: () => void;

  constructor(
    private readonly redis: Pick<RedisHandle, 'client' | 'prefix'> &
      Partial<Pick<RedisHandle, 'subscriber'>>,
    private readonly sealer: Sealer,
    private readonly timeouts: SessionTimeouts,
    private readonly clock: Clock,
  ) {
    this.cache = new LRUCache({ max: 10_000, ttl: SESSION_CACHE_MS, perf: clock });
  }

  /** Listens for sessions ended on other instances (no I/O before this is called). */
  start(logger: Logger): void {
    if (!this.redis.subscriber || this.unsubscribe) return;
    this.unsubscribe = subscribeWithRetry(
      { subscriber: this.redis.subscriber },
      `${this.redis.prefix}${EVICT_CHANNEL}`,
      (hash) => this.cache.delete(hash),
      logger,
      'session eviction',
    );
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  private async evict(hashes: readonly string[]): Promise<void> {
    for (const hash of hashes) {
      this.cache.delete(hash);
      await this.redis.client.publish(`${this.redis.prefix}${EVICT_CHANNEL}`, hash);
    }
  }

  async lookup(id: string): Promise<SessionRecord | undefined> {
    const hash = sessionHash(id);
    const cached = this.cache.get(hash);
    if (cached && sessionExpiry(cached, this.timeouts) > this.clock.now()) return { ...cached };
    const record = await this.read(hash);
    if (record) this.cache.set(hash, record);
    return record && { ...record };
  }

  private key(hash: string): string {
    return `${this.redis.prefix}session:${hash}`;
  }

  private userKey(userId: string): string {
    return `${this.redis.prefix}session-user:${userId}`;
  }

  private get allKey(): string {
    return `${this.redis.prefix}sessions`;
  }

  private async read(hash: string): Promise<SessionRecord | undefined> {
    const sealed = await this.redis.client.get(this.key(hash));
    if (sealed === null) return undefined;
    const record = this.sealer.open<SessionRecord>(sealed, hash);
    if (!record || sessionExpiry(record, this.timeouts) <= this.clock.now()) return undefined;
    return record;
  }

  get(id: string): Promise<SessionRecord | undefined> {
    return this.read(sessionHash(id));
  }

  async put(id: string, record: SessionRecord): Promise<void> {
    const hash = sessionHash(id);
    const expiresAt = sessionExpiry(record, this.timeouts);
    const ttlMs = Math.max(1, expiresAt - this.clock.now());
    const absoluteTtlSec = Math.max(
      1,
      Math.ceil((record.absoluteExpiresAt - this.clock.now()) / 1000),
    );
    // Separate commands: on a Redis Cluster the three keys live in different slots.
    await this.redis.client.set(this.key(hash), this.sealer.seal(record, hash), 'PX', ttlMs);
    await this.redis.client
      .multi()
      .sadd(this.userKey(record.userId), hash)
      .expire(this.userKey(record.userId), absoluteTtlSec, 'GT')
      .exec();
    await this.redis.client.zadd(this.allKey, expiresAt, hash);
    // Every instance drops what it remembers of it (new tokens after a refresh).
    await this.evict([hash]);
  }

  async delete(id: string): Promise<SessionRecord | undefined> {
    const hash = sessionHash(id);
    const record = await this.read(hash);
    await this.redis.client.del(this.key(hash));
    await this.redis.client.zrem(this.allKey, hash);
    if (record) await this.redis.client.srem(this.userKey(record.userId), hash);
    await this.evict([hash]);
    return record;
  }

  async list(userId: string): Promise<SessionSummary[]> {
    const hashes = await this.redis.client.smembers(this.userKey(userId));
    const out: SessionSummary[] = [];
    for (const hash of hashes) {
      const record = await this.read(hash);
      if (record) out.push(summary(hash, record, this.timeouts));
      else await this.redis.client.srem(this.userKey(userId), hash);
    }
    return out;
  }

  async revokeUser(userId: string): Promise<number> {
    const hashes = await this.redis.client.smembers(this.userKey(userId));
    let n = 0;
    for (const hash of hashes) {
      n += await this.redis.client.del(this.key(hash));
      await this.redis.client.zrem(this.allKey, hash);
    }
    await this.redis.client.del(this.userKey(userId));
    await this.evict(hashes);
    return n;
  }

  async active(): Promise<number> {
    const now = this.clock.now();
    await this.redis.client.zremrangebyscore(this.allKey, '-inf', now);
    return this.redis.client.zcard(this.allKey);
  }

  async exclusive<T>(id: string, fn: () => Promise<T>): Promise<T | undefined> {
    const lockKey = `${this.redis.prefix}session-lock:${sessionHash(id)}`;
    const token = randomUUID();
    const got = await this.redis.client.set(lockKey, token, 'PX', LOCK_MS, 'NX');
    if (got === 'OK') {
      try {
        return await fn();
      } finally {
        await evalScript(this.redis.client, RELEASE, [lockKey], [token]).catch(() => undefined);
      }
    }
    // Another instance refreshes: wait for it to finish, then the caller re-reads.
    const deadline = Date.now() + LOCK_MS;
    while (Date.now() < deadline && (await this.redis.client.exists(lockKey)) === 1) {
      await delay(LOCK_POLL_MS);
    }
    return undefined;
  }
}
