/**
 * What the auth layer reports as it works; the metrics module implements it (docs/design.md#metrics).
 * Labels passed here are bounded: issuer names from config, fixed result words.
 */
import type { Principal } from '../request-scope';
export interface AuthObserver {
  jwksRefresh(issuer: string, result: 'success' | 'failure'): void;
  /** Whether the issuer's JWKS endpoint answered the latest fetch (timer, startup or refetch). */
  jwksUp(issuer: string, up: boolean): void;
  tokenValidation(authMethod: Principal['authMethod'], seconds: number): void;
  apiKeyCache(layer: 'memory' | 'redis', result: 'hit' | 'miss' | 'negative_hit' | 'error'): void;
  authServiceRequest(result: 'valid' | 'invalid' | 'error' | 'timeout' | 'circuit_open'): void;
  authServiceUp(up: boolean): void;
  redisUp(up: boolean): void;
  /** A browser sign-in completed at the callback (or failed there). */
  login(result: 'success' | 'failed' | 'error'): void;
  sessionRefresh(result: 'success' | 'failed' | 'error'): void;
  /** Where `authgate_sessions_active` is read from at scrape time. */
  sessionsActive(source: () => Promise<number>): void;
}

export const NOOP_OBSERVER: AuthObserver = {
  jwksRefresh: () => undefined,
  jwksUp: () => undefined,
  tokenValidation: () => undefined,
  apiKeyCache: () => undefined,
  authServiceRequest: () => undefined,
  authServiceUp: () => undefined,
  redisUp: () => undefined,
  login: () => undefined,
  sessionRefresh: () => undefined,
  sessionsActive: () => undefined,
};
