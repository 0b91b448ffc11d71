/**
 * The registry token exchange (distribution's token protocol, as docker, skopeo and the ACR/GHCR
 * token servers speak it): on a `401` with `WWW-Authenticate: Bearer realm,service,scope`,
 * authgate asks the realm — only one on the allow-list — for a token with the chain's credential
 * (never the caller's), caches it per (realm, service, scope) until shortly before it expires,
 * and pre-authenticates later requests of the same repository from that cache.
 */
import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock';
import type { Logger } from '../logging/logger';
import { SingleFlight, authorizationValue, refreshTime, type Credential } from './credential';
import { registryScopes } from './challenge';
import { noAnswer } from './oauth2-provider';
import { outbound } from '../outbound';

/** distribution: a token without expires_in lasts 60 s. */
const DEFAULT_TOKEN_LIFETIME_S = 60;
const MAX_CACHED = 10_000;

export interface ExchangeOptions {
  route: string;
  realms: readonly string[];
  timeoutMs: number;
  refreshBeforeMs: number;
  clock: Clock;
  logger: Logger;
}

interface CachedToken {
  token: string;
  expiresAt: number;
  refreshAt: number;
}

/** ok: the `Authorization` value to retry with. */
export type ExchangeResult = { ok: true; authorization: string } | { ok: false; reason: string };

function cacheKey(realm: string, service: string, scope: string): string {
  return `${realm}\n${service}\n${scope}`;
}

/** The realm as compared with the allow-list: the URL without query or fragment. */
function realmUrl(realm: string): URL | undefined {
  try {
    const u = new URL(realm);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
    if (u.username !== '' || u.password !== '') return undefined;
    return u;
  } catch {
    return undefined;
  }
}

export class TokenExchange {
  private readonly allowed: ReadonlySet<string>;
  /** Least recently used out first when full (never all at once). */
  private readonly tokens = new LRUCache<string, CachedToken>({ max: MAX_CACHED });
  private readonly flights = new Map<string, SingleFlight<ExchangeResult>>();
  /** The realm and service of the upstream's last challenge: where cached tokens are looked up. */
  private issuer: { realm: string; service: string } | undefined;

  constructor(private readonly options: ExchangeOptions) {
    this.allowed = new Set(options.realms.map((r) => new URL(r).href));
  }

  /** A cached token for this request, when the upstream challenged the same scope before. */
  cachedAuthorization(method: string, path: string): string | undefined {
    if (!this.issuer) return undefined;
    const scopes = registryScopes(method, path);
    if (!scopes) return undefined;
    const now = this.options.clock.now();
    for (const scope of scopes) {
      const hit = this.tokens.get(cacheKey(this.issuer.realm, this.issuer.service, scope));
      if (hit && hit.expiresAt > now) return `Bearer ${hit.token}`;
    }
    return undefined;
  }

  /**
   * Answers a Bearer challenge: a token for (realm, service, scope), from the cache while fresh,
   * else from the realm with `credential`. Concurrent challenges for one scope make one request.
   */
  exchange(
    challenge: { realm: string; service?: string; scope?: string },
    credential: Credential,
    requestId: string,
    /** The Authorization the challenged request carried: a cached token that was refused is renewed. */
    sent?: string,
  ): Promise<ExchangeResult> {
    const url = realmUrl(challenge.realm);
    if (!url || !this.allowed.has(new URL(url.origin + url.pathname).href)) {
      this.options.logger.warn('upstream token realm refused', {
        request_id: requestId,
        route: this.options.route,
        realm_host: url?.host ?? 'invalid',
        reason: 'realm_not_allowed',
      });
      return Promise.resolve({ ok: false, reason: 'realm_not_allowed' });
    }
    const service = challenge.service ?? '';
    const scope = challenge.scope ?? '';
    const key = cacheKey(challenge.realm, service, scope);
    const now = this.options.clock.now();
    const hit = this.tokens.get(key);
    this.issuer = { realm: challenge.realm, service };
    if (hit && hit.refreshAt > now && `Bearer ${hit.token}` !== sent) {
      return Promise.resolve({ ok: true, authorization: `Bearer ${hit.token}` });
    }
    let flight = this.flights.get(key);
    if (!flight) {
      flight = new SingleFlight<ExchangeResult>();
      this.flights.set(key, flight);
    }
    return flight
      .run(() => this.request(url, service, scope, credential, key, requestId))
      .finally(() => this.flights.delete(key));
  }

  private async request(
    realm: URL,
    service: string,
    scope: string,
    credential: Credential,
    key: string,
    requestId: string,
  ): Promise<ExchangeResult> {
    const target = new URL(realm.href);
    if (service !== '') target.searchParams.set('service', service);
    for (const s of scope.split(' ')) if (s !== '') target.searchParams.append('scope', s);
    const fail = (reason: string): ExchangeResult => {
      this.options.logger.warn('upstream token exchange failed', {
        request_id: requestId,
        route: this.options.route,
        realm_host: realm.host,
        scope,
        reason,
      });
      return { ok: false, reason };
    };
    let res: Response;
    try {
      res = await outbound(String(target), {
        span: 'token exchange',
        headers: { Authorization: authorizationValue(credential), Accept: 'application/json' },
        timeoutMs: this.options.timeoutMs,
      });
    } catch (err) {
      return fail(noAnswer(err));
    }
    let body: Record<string, unknown>;
    try {
      body = (await res.json()) as Record<string, unknown>;
    } catch {
      return fail(`the realm answered ${res.status} without JSON`);
    }
    if (res.status !== 200) return fail(`the realm answered ${res.status}`);
    const token = typeof body.token === 'string' ? body.token : body.access_token;
    if (typeof token !== 'string' || token === '')
      return fail('the realm answered without a token');
    const seconds = Number(body.expires_in);
    const lifetime = Number.isFinite(seconds) && seconds > 0 ? seconds : DEFAULT_TOKEN_LIFETIME_S;
    const now = this.options.clock.now();
    const expiresAt = now + lifetime * 1000;
    this.tokens.set(key, {
      token,
      expiresAt,
      refreshAt: refreshTime(expiresAt, now, this.options.refreshBeforeMs),
    });
    this.options.logger.info('upstream token exchanged', {
      request_id: requestId,
      route: this.options.route,
      realm_host: realm.host,
      scope,
      expires_in_sec: lifetime,
    });
    return { ok: true, authorization: `Bearer ${token}` };
  }
}
