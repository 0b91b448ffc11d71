/**
 * A JWKS endpoint as a key source. Keys are built into KeyObjects once per fetch.
 *  - Refreshed on a timer every `maxAgeMs`, so a key the identity provider
 *    withdraws stops working within that time even for tokens that are cached.
 *  - An unknown `kid` triggers a refetch, at most one per `minRefetchIntervalMs` and never
 *    concurrently, so a flood of random `kid`s cannot flood the endpoint.
 *  - A failed fetch keeps the last good keys. While the endpoint is failing a rotated key
 *    cannot be told from a forged one, so an unknown `kid` is 503, never 401.
 * `jku`/`x5u`/embedded `jwk` in tokens are never consulted: only this configured URI is.
 */
import { createPublicKey, hash, type JsonWebKey, type KeyObject } from 'node:crypto';
import { systemClock, type Clock } from '../clock';
import { AuthgateError } from '../errors';
import type { Logger } from '../logging/logger';
import { assertKeyStrength } from './keys';
import type { AuthObserver } from './observer';
import { outbound } from '../outbound';

export interface JwksOptions {
  issuer: string;
  uri: string;
  minRefetchIntervalMs: number;
  /** Keys are refreshed on a timer with this period. */
  maxAgeMs: number;
  timeoutMs: number;
  logger: Logger;
  observer: AuthObserver;
  clock?: Clock;
}

interface KeySet {
  byKid: Map<string, KeyObject>;
  all: KeyObject[];
  /** Thumbprints of every key in the set (see keyId). */
  ids: Set<string>;
  fetchedAt: number;
}

const MAX_JWKS_BYTES = 512 * 1024;

/** A stable identity of a public key across fetches: kid + SHA-256 of its JWK. */
const keyIds = new WeakMap<KeyObject, string>();
export function keyId(key: KeyObject): string | undefined {
  return keyIds.get(key);
}

/** Builds the usable keys of a JWKS document; unusable ones are skipped with a reason. */
export function parseJwks(
  doc: unknown,
  logger?: Logger,
  issuer?: string,
): Omit<KeySet, 'fetchedAt'> {
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new Error('JWKS document has no "keys" array');
  const byKid = new Map<string, KeyObject>();
  const all: KeyObject[] = [];
  const ids = new Set<string>();
  for (const jwk of keys as Array<JsonWebKey & { kid?: unknown; use?: unknown }>) {
    try {
      if (jwk.use !== undefined && jwk.use !== 'sig') continue;
      if (jwk.kty !== 'RSA' && jwk.kty !== 'EC') continue;
      if (jwk.d !== undefined) throw new Error('private key material in JWKS');
      const key = createPublicKey({ key: jwk, format: 'jwk' });
      assertKeyStrength(key);
      const kid = typeof jwk.kid === 'string' ? jwk.kid : '';
      const id = `${kid}#${hash('sha256', JSON.stringify(key.export({ format: 'jwk' })), 'base64url')}`;
      keyIds.set(key, id);
      ids.add(id);
      all.push(key);
      if (typeof jwk.kid === 'string') byKid.set(jwk.kid, key);
    } catch (err) {
      logger?.warn('jwks key skipped', {
        issuer,
        kid: typeof jwk.kid === 'string' ? jwk.kid : null,
        reason: (err as Error).message,
      });
    }
  }
  return { byKid, all, ids };
}

/** After a failed fetch: retried after 5 s, then 10, 20, and every 30 s until it works. */
export const JWKS_RETRY_MIN_MS = 5_000;
export const JWKS_RETRY_MAX_MS = 30_000;

export class JwksKeySource {
  private keys: KeySet | undefined;
  private retryDelay = 0;
  private nextRetryAt = 0;
  private stopRetry: (() => void) | undefined;
  private inflight: Promise<boolean> | undefined;
  private lastAttempt = Number.NEGATIVE_INFINITY;
  /** The most recent fetch failed: an unknown kid cannot be judged now. */
  private failing = false;
  private stopTimer: (() => void) | undefined;
  private readonly clock: Clock;

  constructor(private readonly options: JwksOptions) {
    this.clock = options.clock ?? systemClock;
    options.observer.jwksUp(options.issuer, false);
  }

  /** Starts the refresh timer (idempotent). */
  start(): void {
    this.stopTimer ??= this.clock.every(this.options.maxAgeMs, () => void this.refresh());
  }

  stop(): void {
    this.stopTimer?.();
    this.stopTimer = undefined;
    this.stopRetry?.();
    this.stopRetry = undefined;
  }

  /**
   * A fetch failed: try again soon, backing off, instead of waiting for the next `maxAgeMs`
   * refresh — `authgate_jwks_up` (and tokens with a new kid) recover within 30 s of the
   * endpoint coming back.
   */
  private retryLater(): void {
    this.retryDelay =
      this.retryDelay === 0 ? JWKS_RETRY_MIN_MS : Math.min(this.retryDelay * 2, JWKS_RETRY_MAX_MS);
    this.nextRetryAt = this.clock.now() + this.retryDelay;
    this.stopRetry ??= this.clock.every(JWKS_RETRY_MIN_MS, () => {
      if (this.clock.now() >= this.nextRetryAt && !this.inflight) void this.refresh();
    });
  }

  /** Fetches now (startup warm-up, timer, diagnose). Resolves false on failure; keeps old keys. */
  refresh(): Promise<boolean> {
    this.inflight ??= this.fetchKeys().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  get ready(): boolean {
    return this.keys !== undefined;
  }

  /** Is the key with this identity (keyId) still published? */
  hasKey(id: string): boolean {
    return this.keys?.ids.has(id) ?? false;
  }

  private async fetchKeys(): Promise<boolean> {
    const { issuer, uri, timeoutMs, logger, observer } = this.options;
    this.lastAttempt = this.clock.now();
    try {
      const res = await outbound(uri, {
        headers: { accept: 'application/json' },
        timeoutMs,
        span: 'jwks fetch',
      });
      if (!res.ok) throw new Error(`JWKS endpoint answered ${res.status}`);
      const text = await res.text();
      if (text.length > MAX_JWKS_BYTES) throw new Error('JWKS document too large');
      const parsed = parseJwks(JSON.parse(text), logger, issuer);
      if (parsed.all.length === 0) throw new Error('JWKS has no usable signing key');
      const withdrawn = this.keys ? [...this.keys.ids].filter((id) => !parsed.ids.has(id)) : [];
      this.keys = { ...parsed, fetchedAt: this.clock.now() };
      if (this.failing) logger.info('jwks refresh recovered', { issuer, keys: parsed.all.length });
      this.failing = false;
      this.retryDelay = 0;
      this.stopRetry?.();
      this.stopRetry = undefined;
      observer.jwksRefresh(issuer, 'success');
      observer.jwksUp(issuer, true);
      if (withdrawn.length > 0) {
        logger.info('jwks keys withdrawn', {
          issuer,
          kids: withdrawn.map((id) => id.slice(0, id.indexOf('#')) || null),
        });
      }
      return true;
    } catch (err) {
      this.failing = true;
      this.retryLater();
      observer.jwksRefresh(issuer, 'failure');
      observer.jwksUp(issuer, false);
      logger.warn('jwks refresh failed', {
        issuer,
        reason: (err as Error).message,
        keeping_keys: this.keys !== undefined,
      });
      return false;
    }
  }

  private canRefetch(): boolean {
    return this.clock.now() - this.lastAttempt >= this.options.minRefetchIntervalMs;
  }

  private unavailable(): AuthgateError {
    return new AuthgateError('AUTH_SERVICE_UNAVAILABLE', {
      message: 'Signing keys for this issuer could not be fetched; retry later.',
      reason: 'jwks_unavailable',
    });
  }

  /** The key for `kid`; throws TOKEN_INVALID for an unknown kid, 503 when keys cannot be had. */
  async keyFor(kid: string | undefined): Promise<KeyObject> {
    if (!this.keys) {
      if (this.canRefetch() || this.inflight) await this.refresh();
      if (!this.keys) throw this.unavailable();
    }
    let key = this.find(kid);
    if (!key && kid !== undefined) {
      if (this.canRefetch() || this.inflight) {
        // Possibly a rotated key: look once more.
        await this.refresh();
        key = this.find(kid);
      }
      // If the endpoint is down we cannot tell a rotated key from a forged kid.
      if (!key && this.failing) throw this.unavailable();
    }
    if (!key) {
      throw new AuthgateError('TOKEN_INVALID', {
        bearerError: 'invalid_token',
        reason: 'unknown_kid',
      });
    }
    return key;
  }

  private find(kid: string | undefined): KeyObject | undefined {
    const keys = this.keys;
    if (!keys) return undefined;
    if (kid !== undefined) return keys.byKid.get(kid);
    return keys.all.length === 1 ? keys.all[0] : undefined;
  }
}
