/**
 * Client of the API-key auth service (docs/design.md#configuration contract): POST {"api_key": ...}.
 *
 * What an answer means:
 *  - 200 `valid: true` with a usable principal → valid; 200 `valid: false` → invalid;
 *  - any other 4xx (400, 401, 403, 404, 422, ...) is the service's verdict on *this key*:
 *    invalid. Only 408 and 429 mean "ask again later" (a failure, retried, not the key's fault);
 *  - 5xx, timeouts and network errors (resets, refused connections) are failures of the
 *    service: retried with exponential backoff and full jitter, and only they count towards the
 *    circuit breaker — malformed keys from one client can never take API-key auth away from
 *    every user;
 *  - a 200 that breaks the contract (unparseable, a field of the wrong type) is logged as a
 *    warning naming the field and denies the key; it is neither a pass nor an outage.
 * Common variants of a valid answer are accepted: `scopes` and `tenant_ids` as a
 * space-separated string, a numeric `user_id`, `expires_at` as a numeric string.
 */
import type { ApiKeysConfig } from '../config/schema';
import { AuthgateError } from '../errors';
import { NOOP_LOGGER, type Logger } from '../logging/logger';
import { UpstreamTls, tlsAgent } from '../proxy/agents';
import { parseUpstream } from '../routes/route-table';
import { authorizationValue, type CredentialProvider } from '../upstream-credentials/credential';
import { buildProvider } from '../upstream-credentials/route-upstream-auth';
import type { Dispatcher } from 'undici';
import { systemClock, type Clock } from '../clock';
import { CircuitBreaker } from './circuit-breaker';
import { NOOP_OBSERVER, type AuthObserver } from './observer';
import { outbound } from '../outbound';

export type KeyVerdict =
  | {
      valid: true;
      userId: string;
      tenantIds: string[];
      scopes: string[];
      expiresAt?: number;
      keyId?: string;
    }
  | { valid: false };

const INVALID: KeyVerdict = { valid: false };
const SAFE_ID = /^[\w.@:+|=~/-]{1,256}$/;
const SAFE_ITEM = /^[\x21-\x7e]{1,256}$/;
/** Statuses that say "later", not "this key is bad". */
const RETRY_LATER = new Set([408, 429]);
const BACKOFF_BASE_MS = 50;

/** The outcome of parsing an answer: a verdict, or the field that broke the contract. */
export type ParsedAnswer = { verdict: KeyVerdict } | { breach: string };

class Failure extends Error {
  constructor(
    readonly kind: 'error' | 'timeout' | 'refused',
    /** Counts towards the circuit breaker (5xx, timeouts, network errors). */
    readonly serviceDown: boolean,
  ) {
    super(kind);
  }
}

function list(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return [];
  const items =
    typeof v === 'string'
      ? v.split(' ').filter((s) => s !== '')
      : Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number')
        ? v.map(String)
        : undefined;
  return items?.every((s) => SAFE_ITEM.test(s)) ? items : undefined;
}

/**
 * Parses a 200 body of the validate endpoint (also what authgate stores in Redis, so a cache
 * entry is checked by the same rules as the service's answer).
 */
export function parseVerdict(body: unknown): ParsedAnswer {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return { breach: 'body' };
  const b = body as Record<string, unknown>;
  if (b.valid === false) return { verdict: INVALID };
  if (b.valid !== true) return { breach: 'valid' };
  const userId = typeof b.user_id === 'number' ? String(b.user_id) : b.user_id;
  if (typeof userId !== 'string' || !SAFE_ID.test(userId)) return { breach: 'user_id' };
  const tenantIds = list(b.tenant_ids);
  if (!tenantIds) return { breach: 'tenant_ids' };
  const scopes = list(b.scopes);
  if (!scopes) return { breach: 'scopes' };
  let expiresAt: number | undefined;
  if (b.expires_at !== undefined && b.expires_at !== null) {
    expiresAt =
      typeof b.expires_at === 'string' && /^\d{1,12}$/.test(b.expires_at)
        ? Number(b.expires_at)
        : typeof b.expires_at === 'number' && Number.isFinite(b.expires_at)
          ? b.expires_at
          : undefined;
    if (expiresAt === undefined) return { breach: 'expires_at' };
  }
  let keyId: string | undefined;
  if (b.key_id !== undefined && b.key_id !== null) {
    keyId = typeof b.key_id === 'number' ? String(b.key_id) : (b.key_id as string);
    if (typeof keyId !== 'string' || !SAFE_ID.test(keyId)) return { breach: 'key_id' };
  }
  return {
    verdict: {
      valid: true,
      userId,
      tenantIds,
      scopes,
      ...(expiresAt !== undefined ? { expiresAt } : {}),
      ...(keyId !== undefined ? { keyId } : {}),
    },
  };
}

/** The contract shape of a verdict (what parseVerdict reads back). */
export function verdictToJson(verdict: KeyVerdict): Record<string, unknown> {
  if (!verdict.valid) return { valid: false };
  return {
    valid: true,
    user_id: verdict.userId,
    tenant_ids: verdict.tenantIds,
    scopes: verdict.scopes,
    expires_at: verdict.expiresAt,
    key_id: verdict.keyId,
  };
}

export class ApiKeyService {
  readonly breaker: CircuitBreaker;
  private readonly observer: AuthObserver;

  private probing: Promise<boolean> | undefined;
  private up: boolean | undefined;
  private stopProbe: (() => void) | undefined;

  /** TLS towards the service (`serviceAuth.tls`): its CA, authgate's client certificate. */
  private readonly tls?: UpstreamTls;
  private readonly dispatcher?: Dispatcher;
  /** `serviceAuth.providers`: the chain authgate's own credential comes from. */
  private readonly providers: readonly CredentialProvider[];

  constructor(
    private readonly config: Readonly<ApiKeysConfig>,
    observer?: AuthObserver,
    private readonly logger?: Logger,
    private readonly clock: Clock = systemClock,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.observer = observer ?? NOOP_OBSERVER;
    const service = parseUpstream(config.validateUrl);
    const serviceAuth = config.serviceAuth;
    this.providers = (serviceAuth?.providers ?? []).map((p) =>
      buildProvider(p, service, { clock, logger: logger ?? NOOP_LOGGER, env }, 60_000),
    );
    if (serviceAuth?.tls) {
      this.tls = new UpstreamTls('auth-service', serviceAuth.tls, {
        clock,
        logger: logger ?? NOOP_LOGGER,
        intervalMs: serviceAuth.tls.reloadIntervalMs,
      });
      this.dispatcher = tlsAgent(service, this.tls);
    }
    this.breaker = new CircuitBreaker(
      config.circuitBreaker.failureThreshold,
      config.circuitBreaker.openSec * 1000,
      () => clock.now(),
      (state, failures) => {
        const fields = { url: config.validateUrl, failures };
        if (state === 'open')
          logger?.warn('auth service circuit open: API keys answer 503', fields);
        else if (state === 'half_open')
          logger?.info('auth service circuit half-open: probing', fields);
        else logger?.info('auth service circuit closed', fields);
      },
    );
  }

  /** Records the service's health; one log line per change. */
  private setUp(up: boolean, reason?: string): void {
    this.observer.authServiceUp(up);
    if (this.up === up) return;
    const first = this.up === undefined;
    this.up = up;
    if (!up) this.logger?.warn('auth service down', { url: this.config.validateUrl, reason });
    else if (!first) this.logger?.info('auth service up', { url: this.config.validateUrl });
  }

  /**
   * Starts the active probe: every probeIntervalSec a known-bad key is validated, so
   * `authgate_auth_service_up` follows the service even when every real key is cached.
   */
  startProbe(): void {
    if (this.config.probeIntervalSec === 0 || this.stopProbe) return;
    this.stopProbe = this.clock.every(this.config.probeIntervalSec * 1000, () => void this.probe());
  }

  stop(): void {
    this.stopProbe?.();
    this.stopProbe = undefined;
    this.tls?.stop();
    void this.dispatcher?.close().catch(() => undefined);
  }

  /** One probe (joins one in flight); resolves whether the service answered per contract. */
  probe(): Promise<boolean> {
    this.probing ??= (async () => {
      try {
        // A key no service knows: a verdict on it (200 or 4xx) means the service is up.
        const res = await this.post(`${this.config.prefixes[0]}authgate-health-probe`);
        await res.body?.cancel().catch(() => undefined);
        const refusedUs =
          this.config.serviceAuth !== undefined && (res.status === 401 || res.status === 403);
        const up = res.status < 500 && !refusedUs;
        if (refusedUs) this.refused(res.status);
        this.setUp(up, up ? undefined : refusedUs ? 'credential refused' : `status ${res.status}`);
        return up;
      } catch (err) {
        const reason =
          err instanceof Failure
            ? 'no credential'
            : (err as Error).name === 'TimeoutError'
              ? 'timeout'
              : 'unreachable';
        this.setUp(false, reason);
        return false;
      }
    })().finally(() => {
      this.probing = undefined;
    });
    return this.probing;
  }

  private refusedSince: number | undefined;

  /** One error line per outage of authgate's own credential (and at most one a minute). */
  private refused(status: number): void {
    const now = this.clock.now();
    if (this.refusedSince !== undefined && now - this.refusedSince < 60_000) return;
    this.refusedSince = now;
    this.logger?.error("auth service refused authgate's own credential (serviceAuth)", {
      url: this.config.validateUrl,
      status,
    });
  }

  private breached(field: string): KeyVerdict {
    this.logger?.warn('auth service answer breaks the contract; key denied', {
      field,
      url: this.config.validateUrl,
    });
    return INVALID;
  }

  /**
   * authgate's own credential for the service: `serviceAuth.value`, or the first provider of
   * `serviceAuth.providers` that yields (providers cache and renew their credentials). None
   * yields: no key can be judged — an error line (at most one a minute) and a refusal.
   */
  private async ownCredential(): Promise<string | undefined> {
    const serviceAuth = this.config.serviceAuth;
    if (!serviceAuth) return undefined;
    if (serviceAuth.value !== undefined) return serviceAuth.value;
    if (this.providers.length === 0) return undefined;
    const reasons: string[] = [];
    for (const provider of this.providers) {
      const result = await provider.get();
      if ('credential' in result) return authorizationValue(result.credential);
      reasons.push(`${result.source}: ${result.none}`);
    }
    const now = this.clock.now();
    if (this.noCredentialSince === undefined || now - this.noCredentialSince >= 60_000) {
      this.noCredentialSince = now;
      this.logger?.error('no credential for the auth service (serviceAuth.providers)', {
        url: this.config.validateUrl,
        reasons,
      });
    }
    throw new Failure('refused', false);
  }

  private noCredentialSince: number | undefined;

  /**
   * One call of the validate endpoint (docs/design.md#configuration contract), with authgate's
   * own credential and TLS (diagnose probes through it too).
   */
  async post(apiKey: string): Promise<Response> {
    const credential = await this.ownCredential();
    return outbound(this.config.validateUrl, {
      span: 'auth-service validate',
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        ...(credential !== undefined && this.config.serviceAuth
          ? { [this.config.serviceAuth.header]: credential }
          : {}),
      },
      body: JSON.stringify({ api_key: apiKey }),
      timeoutMs: this.config.timeoutMs,
      dispatcher: this.dispatcher,
    });
  }

  private async attempt(apiKey: string): Promise<KeyVerdict> {
    let res: Response;
    try {
      res = await this.post(apiKey);
    } catch (err) {
      if (err instanceof Failure) throw err;
      const name = (err as Error).name;
      const timeout = name === 'TimeoutError' || name === 'AbortError';
      throw new Failure(timeout ? 'timeout' : 'error', true);
    }
    if (res.status === 200) {
      let body: unknown;
      try {
        body = await res.json();
      } catch (err) {
        if ((err as Error).name === 'TimeoutError') throw new Failure('timeout', true);
        return this.breached('body');
      }
      const parsed = parseVerdict(body);
      return 'breach' in parsed ? this.breached(parsed.breach) : parsed.verdict;
    }
    await res.body?.cancel().catch(() => undefined);
    if (res.status >= 500) throw new Failure('error', true);
    if (RETRY_LATER.has(res.status)) throw new Failure('error', false);
    // authgate's own credential was refused: no key can be judged, and retrying will not help.
    if (this.config.serviceAuth && (res.status === 401 || res.status === 403)) {
      this.refused(res.status);
      throw new Failure('refused', false);
    }
    if (res.status >= 400) return INVALID;
    // 1xx/2xx other than 200, 3xx: not an answer the contract knows.
    return this.breached(`status ${res.status}`);
  }

  /** Asks the service; throws 503 AUTH_SERVICE_UNAVAILABLE when it cannot answer. */
  async validate(apiKey: string): Promise<KeyVerdict> {
    if (!this.breaker.allow()) {
      this.observer.authServiceRequest('circuit_open');
      throw new AuthgateError('AUTH_SERVICE_UNAVAILABLE', { reason: 'circuit_open' });
    }
    let last: Failure | undefined;
    for (let i = 0; i <= this.config.retries; i++) {
      if (i > 0) {
        const cap = BACKOFF_BASE_MS * 2 ** (i - 1);
        await new Promise((r) => setTimeout(r, Math.random() * cap + cap / 2));
      }
      try {
        const verdict = await this.attempt(apiKey);
        this.breaker.success();
        this.setUp(true);
        this.observer.authServiceRequest(verdict.valid ? 'valid' : 'invalid');
        return verdict;
      } catch (err) {
        last = err instanceof Failure ? err : new Failure('error', true);
        this.observer.authServiceRequest(last.kind === 'refused' ? 'error' : last.kind);
        if (last.kind === 'refused') break;
      }
    }
    if (last?.serviceDown !== false) {
      this.breaker.failure();
      if (this.breaker.state !== 'closed') this.setUp(false, last?.kind);
    } else {
      // Answered, only not now (408/429): the service is up, the breaker not involved.
      this.breaker.release();
    }
    throw new AuthgateError('AUTH_SERVICE_UNAVAILABLE', {
      reason: `auth_service_${last?.kind ?? 'error'}`,
    });
  }
}
