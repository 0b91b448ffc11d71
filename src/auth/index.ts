/**
 * Builds the configured authenticators from their registrations (auth/registry.ts), in the
 * order they are asked, with the Redis connection they share.
 */
import type { Clock } from '../clock';
import type { Config } from '../config/schema';
import type { Logger } from '../logging/logger';
import { connectRedis, redisConfigured, type RedisHandle } from '../redis';
import { ApiKeyAuthenticator } from './api-key';
import { JwtAuthenticator } from './jwt';
import { NOOP_OBSERVER, type AuthObserver } from './observer';
import type { Authenticator, BuiltAuthenticator } from './authenticator';
import type { BrowserSignIn } from './oidc/sign-in';
import { AUTHENTICATOR_MODULES } from './registry';

export interface AuthLayer {
  authenticators: Authenticator[];
  jwt?: JwtAuthenticator;
  apiKeys?: ApiKeyAuthenticator;
  redis?: RedisHandle;
  /** Browser sign-in, when `auth.oidc` is configured. */
  signIn?: BrowserSignIn;
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
  const redis = redisConfigured(config.redis)
    ? connectRedis(config.redis, options.logger, observer)
    : undefined;
  const deps = { logger: options.logger, observer, clock: options.clock, redis };
  const built: BuiltAuthenticator[] = [];
  for (const module of AUTHENTICATOR_MODULES) {
    const one = module.build(config, deps);
    if (one) built.push(one);
  }
  const authenticators = built.map((b) => b.authenticator);
  return {
    authenticators,
    jwt: authenticators.find((a): a is JwtAuthenticator => a instanceof JwtAuthenticator),
    apiKeys: authenticators.find((a): a is ApiKeyAuthenticator => a instanceof ApiKeyAuthenticator),
    redis,
    signIn: built.find((b) => b.signIn !== undefined)?.signIn,
    async warmUp() {
      for (const b of built) b.start?.();
      await Promise.all(built.map((b) => b.warmUp?.()));
    },
    async close() {
      for (const b of built) b.close?.();
      await redis?.close();
    },
  };
}
