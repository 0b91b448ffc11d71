/**
 * Client of the API-key auth service (DESIGN §3 contract): POST {"api_key": ...}.
 * 200 valid:true → valid; 200 valid:false, 401, 403, 404 → invalid; anything else, timeouts
 * and network errors → failure, retried with exponential backoff and full jitter, behind a
 * circuit breaker. A failure is never turned into "invalid".
 */
import type { ApiKeysConfig } from '../config/schema';
import { AuthgateError } from '../errors';
import { CircuitBreaker } from './circuit-breaker';
import { NOOP_OBSERVER, type AuthObserver } from './observer';

export type KeyVerdict =
  | { valid: true; userId: string; tenantIds: string[]; scopes: string[]; expiresAt?: number }
  | { valid: false };

const SAFE_ID = /^[A-Za-z0-9._@:+|=~/-]{1,256}$/;
const INVALID_STATUSES = new Set([401, 403, 404]);
const BACKOFF_BASE_MS = 50;

class Retryable extends Error {
  constructor(readonly kind: 'error' | 'timeout') {
    super(kind);
  }
}

function stringArray(v: unknown): string[] | undefined {
  if (v === undefined) return [];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  return undefined;
}

/** Parses a 200 body; a malformed "valid" answer is a service failure, not a pass. */
export function parseVerdict(body: unknown): KeyVerdict {
  const b = body as Record<string, unknown> | null;
  if (b === null || typeof b !== 'object') throw new Retryable('error');
  if (b.valid !== true) return { valid: false };
  const userId = b.user_id;
  const tenantIds = stringArray(b.tenant_ids);
  const scopes = stringArray(b.scopes);
  const expiresAt = b.expires_at;
  if (typeof userId !== 'string' || !SAFE_ID.test(userId) || !tenantIds || !scopes)
    throw new Retryable('error');
  if (expiresAt !== undefined && typeof expiresAt !== 'number') throw new Retryable('error');
  return {
    valid: true,
    userId,
    tenantIds,
    scopes,
    ...(expiresAt !== undefined ? { expiresAt } : {}),
  };
}

export class ApiKeyService {
  readonly breaker: CircuitBreaker;
  private readonly observer: AuthObserver;

  constructor(
    private readonly config: Readonly<ApiKeysConfig>,
    observer?: AuthObserver,
  ) {
    this.observer = observer ?? NOOP_OBSERVER;
    this.breaker = new CircuitBreaker(5, 10_000);
  }

  private async attempt(apiKey: string): Promise<KeyVerdict> {
    let res: Response;
    try {
      res = await fetch(this.config.validateUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ api_key: apiKey }),
        signal: AbortSignal.timeout(this.config.timeoutMs),
        redirect: 'error',
      });
    } catch (err) {
      const name = (err as Error).name;
      throw new Retryable(name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'error');
    }
    if (res.status === 200) {
      let body: unknown;
      try {
        body = await res.json();
      } catch {
        throw new Retryable('error');
      }
      return parseVerdict(body);
    }
    await res.body?.cancel();
    if (INVALID_STATUSES.has(res.status)) return { valid: false };
    throw new Retryable('error');
  }

  /** Asks the service; throws 503 AUTH_SERVICE_UNAVAILABLE when it cannot answer. */
  async validate(apiKey: string): Promise<KeyVerdict> {
    if (!this.breaker.allow()) {
      this.observer.authServiceRequest('circuit_open');
      throw new AuthgateError('AUTH_SERVICE_UNAVAILABLE', { reason: 'circuit_open' });
    }
    let last: Retryable | undefined;
    for (let i = 0; i <= this.config.retries; i++) {
      if (i > 0) {
        const cap = BACKOFF_BASE_MS * 2 ** (i - 1);
        await new Promise((r) => setTimeout(r, Math.random() * cap + cap / 2));
      }
      try {
        const verdict = await this.attempt(apiKey);
        this.breaker.success();
        this.observer.authServiceUp(true);
        this.observer.authServiceRequest(verdict.valid ? 'valid' : 'invalid');
        return verdict;
      } catch (err) {
        last = err instanceof Retryable ? err : new Retryable('error');
        this.observer.authServiceRequest(last.kind);
      }
    }
    this.breaker.failure();
    if (this.breaker.state !== 'closed') this.observer.authServiceUp(false);
    throw new AuthgateError('AUTH_SERVICE_UNAVAILABLE', {
      reason: `auth_service_${last?.kind ?? 'error'}`,
    });
  }
}
