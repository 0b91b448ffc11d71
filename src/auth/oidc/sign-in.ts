/**
 * Browser sign-in (docs/browser-sign-in.md): authgate as the OIDC relying party of routes with
 * `login: browser`, and the session authenticator that follows from it.
 *
 *   navigation without a credential → 302 to the provider (state, nonce, PKCE S256), the
 *   three sealed into a short-lived pre-sign-in cookie bound to this state
 *   → callback: state checked against that cookie before the code is redeemed, the ID token
 *   verified (openid-client), claims read → a new session (new random id: no fixation) →
 *   302 back to the page first asked for (same-origin path only)
 *   → later requests: the session cookie authenticates like a bearer token; the upstream gets
 *   the session's access token, refreshed before it expires (one refresh per session across
 *   instances), never authgate's cookies.
 *
 * Codes, tokens and cookies never reach a log line: audit lines carry the user and a reason.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { systemClock, type Clock } from '../../clock';
import type { Config } from '../../config/schema';
import type { OidcConfig } from '../../config/auth-schema';
import { AuthgateError } from '../../errors';
import type { Logger } from '../../logging/logger';
import type { RedisHandle } from '../../redis';
import type { Principal, RequestScope } from '../../request-scope';
import {
  NOT_RESPONSIBLE,
  type AuthResult,
  type Authenticator,
  type AuthenticatorModule,
} from '../authenticator';
import { claimAt } from '../claims';
import { NOOP_OBSERVER, type AuthObserver } from '../observer';
import {
  STATE_CHANGING,
  clearCookie,
  fromOrigin,
  readCookie,
  safeReturnTarget,
  setCookie,
} from './browser';
import {
  ProviderRefused,
  ProviderUnavailable,
  RelyingParty,
  type GrantResult,
} from './relying-party';
import { createSealer, type Sealer } from './seal';
import {
  MemorySessionStore,
  RedisSessionStore,
  newSessionId,
  type SessionRecord,
  type SessionStore,
} from './session-store';

/** How long a started sign-in may take at the provider. */
export const LOGIN_TTL_SEC = 600;

/** What the pre-sign-in cookie holds, sealed. */
interface PendingLogin {
  state: string;
  nonce: string;
  codeVerifier: string;
  returnTo: string;
  /** epoch ms */
  expiresAt: number;
}

export interface SessionIdentity {
  userId: string;
  tenantIds: string[];
  scopes: string[];
}

function stringList(value: unknown): string[] {
  if (typeof value === 'string') return value.split(/[\s,]+/).filter((s) => s !== '');
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

/**
 * Who signed in, from the provider's claims (ID token merged with userinfo): the user id, the
 * tenants, the scopes claim and the scopes the user's groups map to. Undefined without a user id.
 */
export function identityFromClaims(
  claims: Readonly<Record<string, unknown>>,
  config: Pick<OidcConfig, 'claims' | 'groupScopes'>,
): SessionIdentity | undefined {
  const userId = claimAt(claims, config.claims.userId);
  if (typeof userId !== 'string' || userId === '' || userId.length > 256) return undefined;
  const scopes = new Set(stringList(claimAt(claims, config.claims.scopes)));
  if (config.groupScopes) {
    for (const group of stringList(claimAt(claims, config.groupScopes.claim))) {
      if (!Object.hasOwn(config.groupScopes.map, group)) continue;
      for (const scope of config.groupScopes.map[group] ?? []) scopes.add(scope);
    }
  }
  return {
    userId,
    tenantIds: stringList(claimAt(claims, config.claims.tenants)),
    scopes: [...scopes],
  };
}

/** The name of the pre-sign-in cookie of one state (several tabs may sign in at once). */
export function loginCookieName(cookieName: string, state: string): string {
  return `${cookieName}_login_${createHash('sha256').update(state).digest('hex').slice(0, 12)}`;
}

function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function loginFailed(reason: string, cookies: string[] = []): AuthgateError {
  return new AuthgateError('LOGIN_FAILED', { reason, cookies, page: true });
}

function providerUnavailable(reason = 'provider_unavailable'): AuthgateError {
  return new AuthgateError('AUTH_SERVICE_UNAVAILABLE', {
    message: 'The sign-in provider is unavailable; retry later.',
    reason,
  });
}

function storeUnavailable(): AuthgateError {
  return new AuthgateError('AUTH_SERVICE_UNAVAILABLE', {
    message: 'Sessions cannot be read right now; retry later.',
    reason: 'session_store_unavailable',
  });
}

export interface BrowserSignInDeps {
  logger: Logger;
  observer?: AuthObserver;
  clock?: Clock;
  redis?: RedisHandle;
}

export class BrowserSignIn {
  readonly store: SessionStore;
  readonly relyingParty: RelyingParty;
  readonly authenticator: SessionAuthenticator;
  readonly origin: string;
  private readonly loginSealer: Sealer;
  private readonly clock: Clock;
  private readonly observer: AuthObserver;
  private readonly secure: boolean;

  constructor(
    readonly config: OidcConfig,
    private readonly deps: BrowserSignInDeps,
  ) {
    this.clock = deps.clock ?? systemClock;
    this.observer = deps.observer ?? NOOP_OBSERVER;
    this.origin = new URL(config.publicUrl).origin;
    this.secure = config.session.cookieSecure;
    this.loginSealer = createSealer(config.clientSecret, 'sign-in');
    this.store = deps.redis
      ? new RedisSessionStore(
          deps.redis,
          createSealer(config.clientSecret, 'session'),
          config.session,
          this.clock,
        )
      : new MemorySessionStore(config.session, this.clock);
    this.relyingParty = new RelyingParty(config, () => this.clock.now());
    this.authenticator = new SessionAuthenticator(this);
    this.observer.sessionsActive(() => this.store.active());
  }

  get logger(): Logger {
    return this.deps.logger;
  }

  /** Which of authgate's own sign-in paths a request target is, if any. */
  own(url: string): 'callback' | 'logout' | undefined {
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (path === this.config.callbackPath) return 'callback';
    if (path === this.config.logoutPath) return 'logout';
    return undefined;
  }

  now(): number {
    return this.clock.now();
  }

  /**
   * The answer to a browser navigation that needs a session: a 302 to the provider, with the
   * pre-sign-in cookie that binds this browser to the state (and a stale session cookie cleared).
   */
  async loginRedirect(req: IncomingMessage, scope: RequestScope): Promise<AuthgateError> {
    let start;
    try {
      start = await this.relyingParty.start();
    } catch (err) {
      this.logger.warn('sign-in provider unavailable', {
        request_id: scope.requestId,
        reason: err instanceof Error ? err.message : 'unknown',
      });
      throw providerUnavailable();
    }
    const pending: PendingLogin = {
      state: start.state,
      nonce: start.nonce,
      codeVerifier: start.codeVerifier,
      returnTo: safeReturnTarget(req.url, this.origin),
      expiresAt: this.clock.now() + LOGIN_TTL_SEC * 1000,
    };
    const name = loginCookieName(this.config.session.cookieName, start.state);
    const cookies = [
      setCookie(name, this.loginSealer.seal(pending, name), {
        maxAgeSec: LOGIN_TTL_SEC,
        path: this.config.callbackPath,
        secure: this.secure,
      }),
    ];
    if (scope.credentials?.session !== undefined) {
      cookies.push(clearCookie(this.config.session.cookieName, '/', this.secure));
    }
    return new AuthgateError('AUTH_REQUIRED', {
      reason: 'sign_in',
      redirect: { location: start.url },
      cookies,
    });
  }

  /** The provider sent the browser back: a new session, or 401 LOGIN_FAILED. */
  async callback(req: IncomingMessage, scope: RequestScope): Promise<AuthgateError> {
    try {
      const redirect = await this.completeLogin(req, scope);
      this.observer.login('success');
      return redirect;
    } catch (err) {
      this.observer.login(err instanceof AuthgateError && err.status === 503 ? 'error' : 'failed');
      const e = err instanceof AuthgateError ? err : loginFailed('internal');
      this.audit('sign-in', scope, { decision: 'deny', reason: e.reason });
      throw e;
    }
  }

  private async completeLogin(req: IncomingMessage, scope: RequestScope): Promise<AuthgateError> {
    if (scope.method !== 'GET') throw loginFailed('callback_method');
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const search = q === -1 ? '' : url.slice(q);
    const params = new URLSearchParams(search);
    const state = params.get('state');
    if (state === null || state === '' || state.length > 512) throw loginFailed('state_missing');
    const name = loginCookieName(this.config.session.cookieName, state);
    const sealed = readCookie(scope.rawHeaders, name);
    const pending =
      sealed === undefined ? undefined : this.loginSealer.open<PendingLogin>(sealed, name);
    if (!pending) throw loginFailed('state_unknown');
    const clear = [clearCookie(name, this.config.callbackPath, this.secure)];
    if (!sameString(pending.state, state)) throw loginFailed('state_mismatch', clear);
    if (pending.expiresAt <= this.clock.now()) throw loginFailed('login_expired', clear);
    const error = params.get('error');
    if (error !== null) {
      throw loginFailed(
        /^[a-z_]{1,40}$/.test(error) ? `provider_${error}` : 'provider_error',
        clear,
      );
    }
    let grant: GrantResult;
    try {
      grant = await this.relyingParty.redeem(search, pending);
    } catch (err) {
      if (err instanceof ProviderRefused) throw loginFailed(err.reason, clear);
      this.logger.warn('sign-in provider unavailable', {
        request_id: scope.requestId,
        reason: err instanceof Error ? err.message : 'unknown',
      });
      throw providerUnavailable();
    }
    const identity = grant.claims && identityFromClaims(grant.claims, this.config);
    if (!identity) throw loginFailed('no_user_id', clear);
    const now = this.clock.now();
    const record: SessionRecord = {
      ...identity,
      claims: grant.claims,
      accessToken: grant.accessToken,
      refreshToken: grant.refreshToken,
      idToken: grant.idToken,
      accessExpiresAt: grant.accessExpiresAt,
      createdAt: now,
      lastSeenAt: now,
      absoluteExpiresAt: now + this.config.session.absoluteTimeoutSec * 1000,
    };
    // A new id at every sign-in: a session id planted before it is never the one signed in.
    const id = newSessionId();
    try {
      await this.store.put(id, record);
    } catch {
      throw storeUnavailable();
    }
    scope.principal = this.principalOf(record);
    this.audit('sign-in', scope, { decision: 'allow', reason: 'ok', user_id: identity.userId });
    return new AuthgateError('AUTH_REQUIRED', {
      reason: 'signed_in',
      redirect: { location: safeReturnTarget(pending.returnTo, this.origin) },
      cookies: [
        setCookie(this.config.session.cookieName, id, {
          maxAgeSec: this.config.session.absoluteTimeoutSec,
          path: '/',
          secure: this.secure,
        }),
        ...clear,
      ],
    });
  }

  /** Ends this browser's session; then RP-initiated logout at the provider when it has one. */
  async logout(scope: RequestScope): Promise<AuthgateError> {
    const id = readCookie(scope.rawHeaders, this.config.session.cookieName);
    let record: SessionRecord | undefined;
    if (id !== undefined) {
      try {
        record = await this.store.delete(id);
      } catch {
        throw storeUnavailable();
      }
    }
    if (record) {
      scope.principal = this.principalOf(record);
      this.audit('sign-out', scope, {
        decision: 'allow',
        reason: 'logout',
        user_id: record.userId,
      });
    }
    const atProvider = record ? await this.relyingParty.endSessionUrl(record.idToken) : undefined;
    return new AuthgateError('AUTH_REQUIRED', {
      reason: 'signed_out',
      redirect: { location: atProvider ?? '/' },
      cookies: [clearCookie(this.config.session.cookieName, '/', this.secure)],
    });
  }

  principalOf(record: SessionRecord): Principal {
    return {
      userId: record.userId,
      tenantIds: record.tenantIds,
      scopes: record.scopes,
      authMethod: 'session',
      expiresAt: Math.floor(record.absoluteExpiresAt / 1000),
      claims: record.claims,
    };
  }

  /**
   * The session's access token refreshed when it is about to expire: once per session across
   * instances (the store's lock); refresh tokens rotate. Undefined when the session ended (the
   * provider refused the refresh: revoked grant, reused token).
   */
  async fresh(
    id: string,
    record: SessionRecord,
    scope: RequestScope,
  ): Promise<SessionRecord | undefined> {
    if (!this.needsRefresh(record)) return record;
    if (record.refreshToken === undefined) {
      // Nothing to refresh with: the session lasts as long as its access token.
      if (record.accessExpiresAt !== undefined && record.accessExpiresAt <= this.clock.now()) {
        await this.store.delete(id);
        this.audit('session refresh', scope, {
          decision: 'deny',
          reason: 'no_refresh_token',
          user_id: record.userId,
        });
        return undefined;
      }
      return record;
    }
    const outcome = await this.store.exclusive(id, async () => {
      const current = await this.store.get(id);
      if (!current || !this.needsRefresh(current)) return { record: current };
      return { record: await this.refresh(id, current, scope) };
    });
    // Another instance held the lock and refreshed: read what it wrote.
    return outcome ? outcome.record : this.store.get(id);
  }

  private needsRefresh(record: SessionRecord): boolean {
    return (
      record.accessExpiresAt !== undefined &&
      record.accessExpiresAt - this.config.session.refreshBeforeSec * 1000 <= this.clock.now()
    );
  }

  private async refresh(
    id: string,
    record: SessionRecord,
    scope: RequestScope,
  ): Promise<SessionRecord | undefined> {
    let grant: GrantResult;
    try {
      grant = await this.relyingParty.refresh(record.refreshToken as string);
    } catch (err) {
      if (err instanceof ProviderRefused) {
        await this.store.delete(id);
        this.observer.sessionRefresh('failed');
        this.audit('session refresh', scope, {
          decision: 'deny',
          reason: err.reason,
          user_id: record.userId,
        });
        return undefined;
      }
      this.observer.sessionRefresh('error');
      this.logger.warn('session refresh failed', {
        request_id: scope.requestId,
        reason: err instanceof ProviderUnavailable ? 'provider_unavailable' : 'unknown',
      });
      // The provider is down: a still-valid access token keeps working until it expires.
      if (record.accessExpiresAt !== undefined && record.accessExpiresAt > this.clock.now())
        return record;
      throw providerUnavailable();
    }
    const identity = grant.claims ? identityFromClaims(grant.claims, this.config) : undefined;
    const updated: SessionRecord = {
      ...record,
      ...(identity && identity.userId === record.userId
        ? { ...identity, claims: grant.claims }
        : {}),
      accessToken: grant.accessToken,
      refreshToken: grant.refreshToken,
      idToken: grant.idToken ?? record.idToken,
      accessExpiresAt: grant.accessExpiresAt,
    };
    await this.store.put(id, updated);
    this.observer.sessionRefresh('success');
    this.audit('session refresh', scope, {
      decision: 'allow',
      reason: 'refreshed',
      user_id: record.userId,
    });
    return updated;
  }

  /** Sessions are touched at most this often (a write per request would double the lookups). */
  touchIntervalMs(): number {
    return Math.min(60_000, (this.config.session.idleTimeoutSec * 1000) / 10);
  }

  audit(event: string, scope: RequestScope, fields: Record<string, unknown>): void {
    this.logger.info(event, {
      type: 'audit',
      request_id: scope.requestId,
      auth_method: 'session',
      client_ip: scope.clientIp,
      ...fields,
    });
  }
}

/**
 * The session authenticator: last in the order (a cookie is ambient; a bearer token, an API
 * key or the ALB's identity decides first). Not responsible without the cookie or when it names
 * no live session — the request is then anonymous, and a browser navigation on a
 * `login: browser` route is sent to sign in.
 */
export class SessionAuthenticator implements Authenticator {
  readonly method = 'session' as const;

  constructor(private readonly signIn: BrowserSignIn) {}

  async authenticate(_req: IncomingMessage, scope: RequestScope): Promise<AuthResult> {
    const id = scope.credentials?.session;
    // A credential the caller sends decides; the ambient cookie never adds a second identity.
    if (id === undefined || scope.presented) return NOT_RESPONSIBLE;
    let record: SessionRecord | undefined;
    try {
      record = await this.signIn.store.lookup(id);
    } catch {
      throw storeUnavailable();
    }
    if (!record) return NOT_RESPONSIBLE;
    // The cookie rides along on every request the browser makes, cross-site forms included.
    if (STATE_CHANGING.has(scope.method) && !fromOrigin(scope.rawHeaders, this.signIn.origin)) {
      throw new AuthgateError('CSRF_REJECTED', { reason: 'cross_origin' });
    }
    try {
      record = await this.signIn.fresh(id, record, scope);
    } catch (err) {
      if (err instanceof AuthgateError) throw err;
      throw storeUnavailable();
    }
    if (!record) return NOT_RESPONSIBLE;
    const now = this.signIn.now();
    if (now - record.lastSeenAt >= this.signIn.touchIntervalMs()) {
      record.lastSeenAt = now;
      await this.signIn.store.put(id, record).catch(() => undefined);
    }
    scope.upstreamBearer = record.accessToken;
    return this.signIn.principalOf(record);
  }
}

/** Registration (auth/registry.ts): configured by `auth.oidc`; asked last. */
export const oidcSessionModule: AuthenticatorModule = {
  method: 'session',
  headers: () => [],
  build(config: Readonly<Config>, deps) {
    if (!config.auth.oidc) return undefined;
    const signIn = new BrowserSignIn(config.auth.oidc, deps);
    return {
      authenticator: signIn.authenticator,
      signIn,
      start: () => signIn.store.start?.(deps.logger),
      close: () => signIn.store.stop?.(),
      // Discovery before the first sign-in; a provider that is down is retried on use.
      warmUp: () =>
        signIn.relyingParty.discovered().then(
          () => undefined,
          () => {
            deps.logger.warn('sign-in provider discovery failed; retried on first sign-in', {
              issuer: config.auth.oidc!.issuer,
            });
          },
        ),
    };
  },
};
