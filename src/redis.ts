/**
 * The shared Redis connection. Redis is an accelerator, never a dependency of a decision:
 * commands fail fast (no offline queue, short timeout) so a Redis outage degrades to the
 * in-process cache and the auth service instead of stalling requests.
 */
import { Redis } from 'ioredis';
import type { Logger } from './logging/logger';
import type { AuthObserver } from './auth/observer';

export interface RedisHandle {
  client: Redis;
  /** A second connection in subscriber mode (pub/sub needs its own). */
  subscriber: Redis;
  prefix: string;
  isUp(): boolean;
  close(): Promise<void>;
}

export function connectRedis(
  url: string,
  prefix: string,
  logger: Logger,
  observer: AuthObserver,
): RedisHandle {
  let closing = false;
  const options = {
    lazyConnect: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 250,
    connectTimeout: 1000,
    retryStrategy: (times: number) => (closing ? null : Math.min(times * 200, 2000)),
  };
  const client = new Redis(url, options);
  // The subscriber keeps its subscription across reconnects, so it may queue while offline.
  const subscriber = new Redis(url, {
    ...options,
    enableOfflineQueue: true,
    commandTimeout: undefined,
  });
  let up = false;
  const setUp = (value: boolean): void => {
    if (value !== up) logger[value ? 'info' : 'warn'](value ? 'redis up' : 'redis down', {});
    up = value;
    observer.redisUp(value);
  };
  observer.redisUp(false);
  client.on('ready', () => setUp(true));
  client.on('end', () => setUp(false));
  client.on('close', () => setUp(false));
  // ioredis error text can carry command arguments; log only the code.
  client.on('error', (err: NodeJS.ErrnoException) => {
    if (up) logger.warn('redis error', { code: err.code ?? err.name });
  });
  subscriber.on('error', () => undefined);
  return {
    client,
    subscriber,
    prefix,
    isUp: () => up && client.status === 'ready',
    async close() {
      closing = true;
      client.disconnect();
      subscriber.disconnect();
    },
  };
}
