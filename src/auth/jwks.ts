/**
 * A JWKS endpoint as a key source. Keys are built into KeyObjects once per fetch. An unknown
 * `kid` triggers a refetch, but at most one per `minRefetchIntervalMs` and never concurrently,
 * so a flood of random `kid`s cannot flood the endpoint; a failed fetch keeps the last good
 * keys. `jku`/`x5u`/embedded `jwk` in tokens are never consulted: only this configured URI is.
 */
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { AuthgateError } from '../errors';
import type { Logger } from '../logging/logger';
import { assertKeyStrength } from './keys';
import type { AuthObserver } from './observer';

export interface JwksOptions {
  issuer: string;
  uri: string;
  minRefetchIntervalMs: number;
  /** Keys older than this are refreshed in the background on next use. */
  maxAgeMs: number;
  timeoutMs: number;
  logger: Logger;
  observer: AuthObserver;
}

interface KeySet {
  byKid: Map<string, KeyObject>;
  all: KeyObject[];
  fetchedAt: number;
}

const MAX_JWKS_BYTES = 512 * 1024;

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
  for (const jwk of keys as Array<JsonWebKey & { kid?: unknown; use?: unknown }>) {
    try {
      if (jwk.use !== undefined && jwk.use !== 'sig') continue;
      if (jwk.kty !== 'RSA' && jwk.kty !== 'EC') continue;
      if (jwk.d !== undefined) throw new Error('private key material in JWKS');
      const key = createPublicKey({ key: jwk, format: 'jwk' });
      assertKeyStrength(key);
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
  return { byKid, all };
}

export class JwksKeySource {
  private keys: KeySet | undefined;
  private inflight: Promise<boolean> | undefined;
  private lastAttempt = 0;

  constructor(private readonly options: JwksOptions) {}

  /** Fetches now (startup warm-up, diagnose). Resolves false on failure; keeps old keys. */
  refresh(): Promise<boolean> {
    this.inflight ??= this.fetchKeys().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  get ready(): boolean {
    return this.keys !== undefined;
  }

  private async fetchKeys(): Promise<boolean> {
    const { issuer, uri, timeoutMs, logger, observer } = this.options;
    this.lastAttempt = Date.now();
    try {
      const res = await fetch(uri, {
        signal: AbortSignal.timeout(timeoutMs),
        headers: { accept: 'application/json' },
        redirect: 'error',
      });
      if (!res.ok) throw new Error(`JWKS endpoint answered ${res.status}`);
      const text = await res.text();
      if (text.length > MAX_JWKS_BYTES) throw new Error('JWKS document too large');
      const parsed = parseJwks(JSON.parse(text), logger, issuer);
      if (parsed.all.length === 0) throw new Error('JWKS has no usable signing key');
      this.keys = { ...parsed, fetchedAt: Date.now() };
      observer.jwksRefresh(issuer, 'success');
      return true;
    } catch (err) {
      observer.jwksRefresh(issuer, 'failure');
      logger.warn('jwks refresh failed', {
        issuer,
        reason: (err as Error).message,
        keeping_keys: this.keys !== undefined,
      });
      return false;
    }
  }

  private canRefetch(): boolean {
    return Date.now() - this.lastAttempt >= this.options.minRefetchIntervalMs;
  }

  /** The key for `kid`; throws TOKEN_INVALID for an unknown kid, 503 when no keys can be had. */
  async keyFor(kid: string | undefined): Promise<KeyObject> {
    if (!this.keys) {
      if (this.canRefetch() || this.inflight) await this.refresh();
      if (!this.keys) {
        throw new AuthgateError('AUTH_SERVICE_UNAVAILABLE', {
          message: 'Signing keys for this issuer are not available; retry later.',
          reason: 'jwks_unavailable',
        });
      }
    } else if (Date.now() - this.keys.fetchedAt > this.options.maxAgeMs && this.canRefetch()) {
      void this.refresh(); // background: keep serving the current keys
    }
    let key = this.find(kid);
    if (!key && kid !== undefined && (this.canRefetch() || this.inflight)) {
      // Possibly a rotated key: look once more. If the endpoint is down we cannot tell a
      // rotated key from a forged kid, so the answer is "unavailable", never "invalid".
      if (!(await this.refresh())) {
        throw new AuthgateError('AUTH_SERVICE_UNAVAILABLE', {
          message: 'Signing keys for this issuer could not be refreshed; retry later.',
          reason: 'jwks_unavailable',
        });
      }
      key = this.find(kid);
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
