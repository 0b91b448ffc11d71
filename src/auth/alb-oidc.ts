/**
 * The ALB's OIDC identity (`auth.albOidc`, docs/design.md#alb-integration): when an AWS ALB signs browser users in
 * with OIDC it forwards `x-amzn-oidc-data`, a JWT it signs with ES256. This authenticator
 * verifies it — the key by `kid` from `keysUrl/<kid>` (PEM, cached, fetches rate-limited), the
 * `signer` header claim against the configured ALB ARNs, `exp` — and yields a principal from its
 * claims. `x-amzn-oidc-identity` must equal the verified `sub` (403 IDENTITY_MISMATCH).
 *
 * The ALB's padding quirk: its segments are base64url *with* `=` padding, which JWT libraries
 * refuse. The signature covers the segments exactly as sent, so verification is done here on the
 * raw signing input, and segments are decoded leniently.
 *
 * The app refuses every `x-amzn-oidc-*` header from a peer outside `server.trustedProxies`
 * before any authenticator runs, so only the ALB can present one.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { LRUCache } from 'lru-cache';
import { systemClock, type Clock } from '../clock';
import type { Config } from '../config/schema';
import { AuthgateError } from '../errors';
import { headerValues } from '../headers/hop-by-hop';
import { trimTrailingSlashes } from '../paths/normalize-path';
import type { Logger } from '../logging/logger';
import type { Principal, RequestScope } from '../request-scope';
import {
  NOT_RESPONSIBLE,
  type AuthResult,
  type Authenticator,
  type AuthenticatorModule,
} from './authenticator';
import { NOOP_OBSERVER, type AuthObserver } from './observer';
import { outbound } from '../outbound';
import { claimAt } from './claims';

export type AlbOidcConfig = NonNullable<Config['auth']['albOidc']>;

export const ALB_OIDC_DATA = 'x-amzn-oidc-data';
export const ALB_OIDC_IDENTITY = 'x-amzn-oidc-identity';
export const ALB_OIDC_ACCESS_TOKEN = 'x-amzn-oidc-accesstoken';

const SAFE_KID = /^[A-Za-z0-9-]{1,128}$/;
const SAFE_SUBJECT = /^[\w.@:+|=~/-]{1,256}$/;
const SEGMENT = /^[\w-]+={0,2}$/;
const MAX_KEY_BYTES = 16 * 1024;

function invalid(reason: string, message?: string): AuthgateError {
  return new AuthgateError('TOKEN_INVALID', { bearerError: 'invalid_token', reason, message });
}

/** The ALB pads its base64url segments with "=": drop them (linear, no regex). */
function stripPadding(segment: string): string {
  let end = segment.length;
  while (end > 0 && segment.charCodeAt(end - 1) === 61) end--;
  return segment.slice(0, end);
}

function decodeJson(segment: string): Record<string, unknown> {
  try {
    const value = JSON.parse(
      Buffer.from(stripPadding(segment), 'base64url').toString('utf8'),
    ) as unknown;
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch {
    throw invalid('alb_malformed');
  }
}

function stringList(value: unknown): string[] {
  if (typeof value === 'string') return value.split(/[\s,]+/).filter((s) => s !== '');
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

export interface AlbOidcOptions {
  logger: Logger;
  observer?: AuthObserver;
  clock?: Clock;
}

type KeyEntry = { key: KeyObject } | { missing: true; until: number };

export class AlbOidcAuthenticator implements Authenticator {
  readonly method = 'alb_oidc' as const;
  private readonly keys = new LRUCache<string, KeyEntry>({ max: 1000 });
  private readonly inflight = new Map<string, Promise<KeyEntry>>();
  private readonly clock: Clock;
  private readonly observer: AuthObserver;
  private readonly signers: ReadonlySet<string>;
  private lastFetch = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly config: Readonly<AlbOidcConfig>,
    private readonly options: AlbOidcOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.observer = options.observer ?? NOOP_OBSERVER;
    this.signers = new Set(config.signers);
  }

  authenticate(req: IncomingMessage, scope: RequestScope): AuthResult | Promise<AuthResult> {
    const values = headerValues(scope.rawHeaders, ALB_OIDC_DATA);
    if (values.length === 0) return NOT_RESPONSIBLE;
    if (values.length > 1)
      throw invalid('alb_duplicate', 'Only one x-amzn-oidc-data header is allowed.');
    return this.verify(values[0] as string, headerValues(scope.rawHeaders, ALB_OIDC_IDENTITY));
  }

  private async verify(token: string, identities: string[]): Promise<Principal> {
    const started = performance.now();
    try {
      const parts = token.split('.');
      if (parts.length !== 3 || !parts.every((p) => SEGMENT.test(p)))
        throw invalid('alb_malformed');
      const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
      const header = decodeJson(headerPart);
      if (header.alg !== 'ES256')
        throw invalid('bad_algorithm', 'The ALB token algorithm is not accepted.');
      if (typeof header.signer !== 'string' || !this.signers.has(header.signer)) {
        throw invalid('alb_wrong_signer', 'The token was not signed by a trusted load balancer.');
      }
      if (typeof header.kid !== 'string' || !SAFE_KID.test(header.kid))
        throw invalid('alb_malformed');
      const key = await this.keyFor(header.kid);
      const signature = Buffer.from(stripPadding(signaturePart), 'base64url');
      const ok = verify(
        'sha256',
        Buffer.from(`${headerPart}.${payloadPart}`),
        { key, dsaEncoding: 'ieee-p1363' },
        signature,
      );
      if (!ok) throw invalid('bad_signature', 'The token signature is invalid.');
      const payload = decodeJson(payloadPart);
      // The ALB signs `exp` and `iss` in the token header; the payload is the IdP's user-info
      // and never overrides them (an old token's payload can claim any expiry).
      this.checkTimes(header.exp);
      if (this.config.issuer !== undefined && header.iss !== this.config.issuer) {
        throw invalid('bad_issuer');
      }
      if (this.config.clientId !== undefined && header.client !== this.config.clientId) {
        throw invalid('bad_audience', 'The token was issued for another client.');
      }
      const principal = this.principalFrom(payload, header.iss);
      if (
        identities.length > 1 ||
        (identities.length === 1 && identities[0] !== principal.userId)
      ) {
        throw new AuthgateError('IDENTITY_MISMATCH', {
          message: 'x-amzn-oidc-identity does not match the verified ALB identity.',
          reason: 'alb_identity_mismatch',
        });
      }
      return principal;
    } finally {
      this.observer.tokenValidation('alb_oidc', (performance.now() - started) / 1000);
    }
  }

  private checkTimes(exp: unknown): void {
    const value = typeof exp === 'string' && /^\d+$/.test(exp) ? Number(exp) : exp;
    if (typeof value !== 'number') throw invalid('missing_exp', 'The token has no expiry.');
    if (value + this.config.clockToleranceSec <= this.clock.now() / 1000) {
      throw new AuthgateError('TOKEN_EXPIRED', { bearerError: 'invalid_token', reason: 'expired' });
    }
  }

  private principalFrom(payload: Record<string, unknown>, iss: unknown): Principal {
    const claims = this.config.claims;
    const sub = claimAt(payload, claims.userId);
    if (typeof sub !== 'string' || !SAFE_SUBJECT.test(sub)) {
      throw invalid('unsafe_sub', 'The token subject is missing or has unsupported characters.');
    }
    const tenants =
      claims.tenants !== undefined ? stringList(claimAt(payload, claims.tenants)) : [];
    const scopes = claims.scopes !== undefined ? stringList(claimAt(payload, claims.scopes)) : [];
    return {
      userId: sub,
      tenantIds: tenants,
      scopes: [...new Set([...this.config.scopes, ...scopes])],
      authMethod: 'alb_oidc',
      issuer: typeof iss === 'string' ? iss : undefined,
      claims: payload,
    };
  }

  /** The ALB's public key for `kid`; fetches of keys not yet seen are rate-limited. */
  private async keyFor(kid: string): Promise<KeyObject> {
    let entry = this.keys.get(kid);
    if (entry && 'missing' in entry && entry.until <= this.clock.now()) entry = undefined;
    if (!entry) {
      let pending = this.inflight.get(kid);
      if (!pending) {
        if (this.clock.now() - this.lastFetch < this.config.minFetchIntervalMs) {
          // A flood of unknown kids cannot flood the key server; it cannot be judged either.
          throw new AuthgateError('AUTH_SERVICE_UNAVAILABLE', {
            message: 'The load balancer key could not be fetched yet; retry later.',
            reason: 'alb_key_rate_limited',
          });
        }
        this.lastFetch = this.clock.now();
        pending = this.fetchKey(kid).finally(() => this.inflight.delete(kid));
        this.inflight.set(kid, pending);
      }
      entry = await pending;
    }
    if ('missing' in entry) throw invalid('unknown_kid');
    return entry.key;
  }

  private async fetchKey(kid: string): Promise<KeyEntry> {
    const url = `${trimTrailingSlashes(this.config.keysUrl)}/${kid}`;
    let res: Response;
    try {
      res = await outbound(url, { timeoutMs: this.config.timeoutMs, span: 'alb key fetch' });
    } catch (err) {
      this.options.logger.warn('alb key fetch failed', { kid, reason: (err as Error).message });
      throw new AuthgateError('AUTH_SERVICE_UNAVAILABLE', {
        message: 'The load balancer key could not be fetched; retry later.',
        reason: 'alb_key_unavailable',
      });
    }
    if (res.status === 404 || res.status === 403) {
      await res.body?.cancel();
      // An unknown kid is remembered for the fetch interval, so it is not asked for again.
      const entry: KeyEntry = {
        missing: true,
        until: this.clock.now() + this.config.minFetchIntervalMs,
      };
      this.keys.set(kid, entry);
      return entry;
    }
    const text = await res.text();
    if (!res.ok || text.length > MAX_KEY_BYTES) {
      this.options.logger.warn('alb key fetch failed', { kid, status: res.status });
      throw new AuthgateError('AUTH_SERVICE_UNAVAILABLE', {
        message: 'The load balancer key could not be fetched; retry later.',
        reason: 'alb_key_unavailable',
      });
    }
    try {
      const key = createPublicKey(text);
      if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
        throw new Error('not a P-256 key');
      }
      const entry: KeyEntry = { key };
      this.keys.set(kid, entry);
      return entry;
    } catch (err) {
      this.options.logger.warn('alb key unusable', { kid, reason: (err as Error).message });
      throw new AuthgateError('AUTH_SERVICE_UNAVAILABLE', { reason: 'alb_key_unusable' });
    }
  }
}

/** Registration (auth/registry.ts): configured by `auth.albOidc`. */
export const albOidcModule: AuthenticatorModule = {
  method: 'alb_oidc',
  headers: (config) =>
    config.auth.albOidc ? [ALB_OIDC_DATA, ALB_OIDC_IDENTITY, ALB_OIDC_ACCESS_TOKEN] : [],
  trustedOnlyPrefixes: ['x-amzn-oidc-'],
  build(config, deps) {
    if (!config.auth.albOidc) return undefined;
    return {
      authenticator: new AlbOidcAuthenticator(config.auth.albOidc, {
        logger: deps.logger,
        observer: deps.observer,
        clock: deps.clock,
      }),
    };
  },
};
