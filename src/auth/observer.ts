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
}

export const NOOP_OBSERVER: AuthObserver = {
  jwksRefresh: () => undefined,
  jwksUp: () => undefined,
  tokenValidation: () => undefined,
  apiKeyCache: () => undefined,
  authServiceRequest: () => undefined,
  authServiceUp: () => undefined,
  redisUp: () => undefined,
};
