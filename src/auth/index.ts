/**
 * Builds the authenticators from config, in the order they are asked: the ALB's OIDC identity,
 * JWT, then API keys.
 */
import type { Clock } from '../clock';
import type { Config } from '../config/schema';
import type { Logger } from '../logging/logger';
import { connectRedis, redisConfigured, type RedisHandle } from '../redis';
import { AlbOidcAuthenticator } from './alb-oidc';
import { ApiKeyAuthenticator } from './api-key';
import type { Authenticator } from './authenticator';
import { JwtAuthenticator } from './jwt';
import { NOOP_OBSERVER, type AuthObserver } from './observer';

export interface AuthLayer {
  authenticators: Authenticator[];
  jwt?: JwtAuthenticator;
  apiKeys?: ApiKeyAuthenticator;
  redis?: RedisHandle;
  /** Fetches JWKS, connects Redis; never throws (failures are retried on use). */
  warmUp(): Promise<void>;
  close(): Promise<void>;
}

export interface AuthLayerOptions {
  logger: Logger;
  observer?: AuthObserver;
  clock?: Clock;
}

export function createAuthLayer(config: Readonly<Config>, options: AuthLayerOptions): AuthLayer {
  const observer = options.observer ?? NOOP_OBSERVER;
  const authenticators: Authenticator[] = [];
  // The ALB's identity first: a browser behind ALB OIDC carries nothing else (DESIGN §12).
  const albOidc = config.auth.albOidc
    ? new AlbOidcAuthenticator(config.auth.albOidc, {
        logger: options.logger,
        observer,
        clock: options.clock,
      })
    : undefined;
  if (albOidc) authenticators.push(albOidc);
  const jwt =
    config.auth.jwt.issuers.length > 0
      ? new JwtAuthenticator(config.auth.jwt, {
          logger: options.logger,
          observer,
          clock: options.clock,
        })
      : undefined;
  if (jwt) authenticators.push(jwt);
  const redis = redisConfigured(config.redis)
    ? connectRedis(config.redis, options.logger, observer)
    : undefined;
  const apiKeys = config.auth.apiKeys
    ? new ApiKeyAuthenticator(config.auth.apiKeys, {
        logger: options.logger,
        observer,
        redis,
        now: options.clock && (() => options.clock!.now()),
        clock: options.clock,
      })
    : undefined;
  if (apiKeys) authenticators.push(apiKeys);
  return {
    authenticators,
    jwt,
    apiKeys,
    redis,
    async warmUp() {
      apiKeys?.start();
      apiKeys?.service.startProbe();
      await jwt?.warmUp();
    },
    async close() {
      jwt?.close();
      apiKeys?.stop();
      await redis?.close();
    },
  };
}
