/**
 * JWT authenticator (docs/design.md#configuration). Closed by design against the known pitfalls:
 *  - `alg` comes from an explicit per-issuer allow-list; `none` is never in it, and HS and
 *    asymmetric algorithms never share an issuer (no HS/RS confusion);
 *  - the key comes from config only (secret, PEM, or the configured JWKS URI): `jku`, `x5u`
 *    and embedded `jwk` headers are never read; `crit` is refused (we implement no extension);
 *  - `exp` is required, the lifetime is capped, `iat` may not lie in the future;
 *  - the subject becomes X-User-ID, so it must be a short, header-safe string.
 * Verified tokens are cached by SHA-256 of the token, never past their `exp`.
 */
import { hash } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import jwt, { type JwtPayload } from 'jsonwebtoken';
import { LRUCache } from 'lru-cache';
import type { Config, IssuerConfig } from '../config/schema';
import { AuthgateError } from '../errors';
import {
  audienceAccepted,
  decodeSegment,
  explainRefusedToken,
  invalid,
  mapVerifyError,
  type TokenHeader,
} from './jwt-token';

export { audienceAccepted } from './jwt-token';
import type { Logger } from '../logging/logger';
import type { Principal, RequestScope } from '../request-scope';
import {
  NOT_RESPONSIBLE,
  type AuthResult,
  type Authenticator,
  type AuthenticatorModule,
} from './authenticator';
import { systemClock, type Clock } from '../clock';
import { ENTRY_OVERHEAD_BYTES } from './cache-bytes';
import { JwksKeySource, keyId } from './jwks';
import { algorithmsForKey, publicKeyFromPemFile, secretKey } from './keys';
import { NOOP_OBSERVER, type AuthObserver } from './observer';
import { claimAt } from './claims';

type JwtConfig = Config['auth']['jwt'];

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
/** Characters allowed in a subject that is forwarded as X-User-ID. */
const SAFE_SUBJECT = /^[A-Za-z0-9._@:+|=~/-]{1,256}$/;

interface IssuerVerifier {
  config: IssuerConfig;
  keyFor(kid: string | undefined): Promise<KeyObject> | KeyObject;
  jwks?: JwksKeySource;
}

function stringList(value: unknown): string[] | undefined {
  if (typeof value === 'string') return value.split(' ').filter((s) => s !== '');
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  return undefined;
}

/** A token's verified payload (its own type, so the published types need no @types package). */
export type TokenClaims = { exp?: number; [claim: string]: unknown };

export function principalFromClaims(payload: TokenClaims, issuer: IssuerConfig): Principal {
  const sub = claimAt(payload, issuer.claims.userId);
  if (typeof sub !== 'string')
    throw invalid('sub_not_string', 'The token subject is missing or not a string.');
  if (!SAFE_SUBJECT.test(sub))
    throw invalid('unsafe_sub', 'The token subject contains unsupported characters.');
  const tenantsClaim = claimAt(payload, issuer.claims.tenants);
  const tenantIds = tenantsClaim === undefined ? [] : stringList(tenantsClaim);
  if (tenantIds === undefined) throw invalid('bad_tenants_claim');
  const scopeClaim = [issuer.claims.scopes, 'scope', 'scopes', 'scp']
    .map((name) => claimAt(payload, name))
    .find((v) => v !== undefined);
  const scopes = scopeClaim === undefined ? [] : stringList(scopeClaim);
  if (scopes === undefined) throw invalid('bad_scope_claim');
  return {
    userId: sub,
    tenantIds,
    scopes,
    authMethod: 'jwt',
    expiresAt: payload.exp,
    issuer: issuer.issuer,
    claims: payload,
  };
}

export interface JwtAuthenticatorOptions {
  logger: Logger;
  observer?: AuthObserver;
  /** Token times and the JWKS refresh timers run on it; tests move it. */
  clock?: Clock;
}

interface CachedToken {
  /** What the entry counts for against verifiedCacheMaxMb. */
  bytes: number;
  principal: Principal;
  /** For JWKS keys: the source and identity of the key that verified the token. */
  jwks?: JwksKeySource;
  keyId?: string;
}

interface Verified {
  principal: Principal;
  key: KeyObject;
  jwks?: JwksKeySource;
}

export class JwtAuthenticator implements Authenticator {
  readonly method = 'jwt' as const;
  private readonly issuers = new Map<string, IssuerVerifier>();
  private readonly cache: LRUCache<string, CachedToken> | undefined;
  private readonly observer: AuthObserver;
  private readonly now: () => number;

  constructor(
    private readonly config: Readonly<JwtConfig>,
    options: JwtAuthenticatorOptions,
  ) {
    this.observer = options.observer ?? NOOP_OBSERVER;
    const clock = options.clock ?? systemClock;
    this.now = () => clock.now() / 1000;
    for (const issuer of config.issuers) {
      if (issuer.secret !== undefined) {
        const key = secretKey(issuer.secret);
        this.issuers.set(issuer.issuer, { config: issuer, keyFor: () => key });
      } else if (issuer.publicKeyFile !== undefined) {
        const key = publicKeyFromPemFile(issuer.publicKeyFile);
        this.issuers.set(issuer.issuer, { config: issuer, keyFor: () => key });
      } else if (issuer.jwksUri !== undefined) {
        const jwks = new JwksKeySource({
          issuer: issuer.issuer,
          uri: issuer.jwksUri,
          minRefetchIntervalMs: config.jwksMinRefetchIntervalSec * 1000,
          maxAgeMs: config.jwksMaxAgeSec * 1000,
          timeoutMs: 5000,
          logger: options.logger,
          observer: this.observer,
          clock,
        });
        this.issuers.set(issuer.issuer, {
          config: issuer,
          keyFor: (kid) => jwks.keyFor(kid),
          jwks,
        });
      }
    }
    this.cache =
      config.verifiedCacheSize > 0
        ? new LRUCache<string, CachedToken>({
            max: config.verifiedCacheSize,
            maxSize: config.verifiedCacheMaxMb * 1024 * 1024,
            sizeCalculation: (entry) => entry.bytes,
          })
        : undefined;
  }

  /**
   * Fetches every JWKS once (startup) and starts their refresh timers; failures are logged and
   * retried by the timer and on first use.
   */
  async warmUp(): Promise<void> {
    await Promise.all([...this.issuers.values()].map((i) => i.jwks?.refresh()));
    for (const i of this.issuers.values()) i.jwks?.start();
  }

  /** Stops the JWKS refresh timers. */
  close(): void {
    for (const i of this.issuers.values()) i.jwks?.stop();
  }

  jwksSources(): Array<{ issuer: string; source: JwksKeySource }> {
    return [...this.issuers.values()].flatMap((i) =>
      i.jwks ? [{ issuer: i.config.issuer, source: i.jwks }] : [],
    );
  }

  authenticate(_req: unknown, scope: RequestScope): Promise<AuthResult> | AuthResult {
    const token = scope.credentials?.bearer;
    if (token === undefined) return NOT_RESPONSIBLE;
    const cacheKey = this.cache ? hash('sha256', token, 'base64') : '';
    return this.fromCache(cacheKey) ?? this.verify(token, cacheKey);
  }

  verified(scope: RequestScope): Principal | undefined {
    const token = scope.credentials?.bearer;
    if (token === undefined || !this.cache) return undefined;
    return this.fromCache(hash('sha256', token, 'base64'));
  }

  /** A cached principal still valid: before its `exp`, its key still published. */
  private fromCache(cacheKey: string): Principal | undefined {
    const cached = this.cache?.get(cacheKey);
    if (!cached) return undefined;
    const { principal } = cached;
    // A key the issuer withdrew takes the tokens it verified with it.
    const keyLive = !cached.jwks || cached.jwks.hasKey(cached.keyId ?? '');
    if (keyLive && principal.expiresAt !== undefined && principal.expiresAt > this.now())
      return principal;
    this.cache!.delete(cacheKey);
    return undefined;
  }

  private async verify(token: string, cacheKey: string): Promise<Principal> {
    const started = performance.now();
    try {
      const verified = await this.verifyWithKey(token);
      if (this.cache) {
        this.cache.set(cacheKey, {
          // The claims are decoded from the token, so its length bounds what they hold.
          bytes: ENTRY_OVERHEAD_BYTES + 4 * token.length,
          principal: verified.principal,
          jwks: verified.jwks,
          keyId: verified.jwks ? keyId(verified.key) : undefined,
        });
      }
      return verified.principal;
    } catch (err) {
      if (err instanceof AuthgateError) err.details ??= explainRefusedToken(token, this.now());
      throw err;
    } finally {
      this.observer.tokenValidation('jwt', (performance.now() - started) / 1000);
    }
  }

  /** The full verification, no cache. */
  async verifyUncached(token: string): Promise<Principal> {
    return (await this.verifyWithKey(token)).principal;
  }

  private async verifyWithKey(token: string): Promise<Verified> {
    if (!JWT_SHAPE.test(token)) throw invalid('malformed');
    const [headerPart, payloadPart] = token.split('.') as [string, string];
    const header = decodeSegment<TokenHeader>(headerPart);
    if (header === null || typeof header !== 'object') throw invalid('malformed');
    if (header.crit !== undefined)
      throw invalid('crit', 'The token uses an unsupported critical header.');
    if (typeof header.alg !== 'string' || header.alg.toLowerCase() === 'none') {
      throw invalid('alg_none', 'The token algorithm is not accepted.');
    }
    const unverified = decodeSegment<JwtPayload>(payloadPart);
    if (
      unverified === null ||
      typeof unverified !== 'object' ||
      typeof unverified.iss !== 'string'
    ) {
      throw invalid('no_issuer');
    }
    const issuer = this.issuers.get(unverified.iss);
    if (!issuer) throw invalid('unknown_issuer', 'The token issuer is not trusted.');
    if (!(issuer.config.algorithms as readonly string[]).includes(header.alg)) {
      throw invalid('bad_algorithm', 'The token algorithm is not accepted.');
    }
    const key = await issuer.keyFor(typeof header.kid === 'string' ? header.kid : undefined);
    const algorithms = algorithmsForKey(key, issuer.config.algorithms);
    if (!algorithms.includes(header.alg as (typeof algorithms)[number])) {
      throw invalid('bad_algorithm', 'The token algorithm does not fit the issuer key.');
    }
    let payload: JwtPayload;
    try {
      const verified = jwt.verify(token, key, {
        algorithms,
        clockTolerance: this.config.clockToleranceSec,
        clockTimestamp: Math.floor(this.now()),
      });
      if (typeof verified === 'string') throw invalid('malformed');
      payload = verified;
    } catch (err) {
      throw mapVerifyError(err);
    }
    // The issuer was chosen by the token's own iss; these are the verified bytes of it.
    if (payload.iss !== issuer.config.issuer) throw invalid('bad_issuer');
    if (!audienceAccepted(payload.aud, issuer.config.audience))
      throw invalid('bad_audience', 'The token audience is not accepted.');
    this.checkLifetime(payload);
    return { principal: principalFromClaims(payload, issuer.config), key, jwks: issuer.jwks };
  }

  private checkLifetime(payload: JwtPayload): void {
    const now = this.now();
    const tolerance = this.config.clockToleranceSec;
    if (typeof payload.exp !== 'number') throw invalid('missing_exp', 'The token has no expiry.');
    if (payload.iat !== undefined) {
      if (typeof payload.iat !== 'number') throw invalid('bad_iat');
      if (payload.iat > now + tolerance) {
        throw new AuthgateError('TOKEN_NOT_YET_VALID', {
          bearerError: 'invalid_token',
          reason: 'iat_in_future',
        });
      }
    }
    const lifetime = payload.exp - (typeof payload.iat === 'number' ? payload.iat : now);
    if (lifetime > this.config.maxLifetimeSec) {
      throw invalid('lifetime_too_long', 'The token lifetime exceeds the allowed maximum.');
    }
  }
}

/** Registration (auth/registry.ts): configured by `auth.jwt.issuers`. */
export const jwtModule: AuthenticatorModule = {
  method: 'jwt',
  headers: (config) => (config.auth.jwt.issuers.length > 0 ? ['authorization'] : []),
  build(config, deps) {
    if (config.auth.jwt.issuers.length === 0) return undefined;
    const jwt = new JwtAuthenticator(config.auth.jwt, {
      logger: deps.logger,
      observer: deps.observer,
      clock: deps.clock,
    });
    return { authenticator: jwt, warmUp: () => jwt.warmUp(), close: () => jwt.close() };
  },
};
