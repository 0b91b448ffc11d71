/**
 * The shared Redis connection. Redis is an accelerator, never a dependency of a decision:
 * commands fail fast (no offline queue, short timeout) so a Redis outage degrades to the
 * in-process cache and the auth service instead of stalling requests.
 *
 * One node (`redis.url`), Sentinel (`redis.sentinel`: ioredis asks the sentinels for the master
 * and follows failovers) or Cluster (`redis.cluster`): keys used together in one script or MGET
 * share a hash tag (`{...}`), so every command stays on one slot.
 */
import { createHash } from 'node:crypto';
import type * as IoRedis from 'ioredis';
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import type { Config } from './config/schema';
import type { Logger } from './logging/logger';
import type { AuthObserver } from './auth/observer';

export type RedisClient = Redis | Cluster;
export type RedisConfig = Config['redis'];

export interface RedisHandle {
  client: RedisClient;
  /** A second connection in subscriber mode (pub/sub needs its own). */
  subscriber: RedisClient;
  prefix: string;
  isUp(): boolean;
  close(): Promise<void>;
}

/** Whether `config.redis` names a Redis at all (url, sentinel or cluster). */
export function redisConfigured(config: RedisConfig): boolean {
  return config.url !== undefined || config.sentinel !== undefined || config.cluster !== undefined;
}

/** Where the config points, for log lines and diagnose (never a password). */
export function describeRedis(config: RedisConfig): string {
  if (config.sentinel)
    return `sentinel ${config.sentinel.name} via ${config.sentinel.sentinels.map((n) => `${n.host}:${n.port}`).join(',')}`;
  if (config.cluster)
    return `cluster ${config.cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
  if (!config.url) return 'none';
  try {
    const u = new URL(config.url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return 'redis';
  }
}

/** A client for `config` (the caller must have checked `redisConfigured`). */
export function createRedisClient(
  config: RedisConfig,
  options: RedisOptions & { enableOfflineQueue?: boolean },
): RedisClient {
  // ioredis is loaded only when a Redis is configured (docs/design.md#memory).
  const { Cluster, Redis } = module.require('ioredis') as typeof IoRedis;
  if (config.cluster) {
    // lazyConnect belongs to the Cluster, never to its node connections: nodes that connect on
    // their own race the cluster's slot refresh, and the client then cycles through close and
    // reconnect (seen 3 times in 6 on a fresh three-master cluster).
    const { retryStrategy, enableOfflineQueue, lazyConnect, ...redisOptions } = options;
    return new Cluster(config.cluster.nodes, {
      enableOfflineQueue,
      lazyConnect,
      clusterRetryStrategy: retryStrategy,
      redisOptions: {
        ...redisOptions,
        ...(config.cluster.password !== undefined ? { password: config.cluster.password } : {}),
      },
    });
  }
  if (config.sentinel) {
    return new Redis({
      ...options,
      name: config.sentinel.name,
      sentinels: config.sentinel.sentinels,
      password: config.sentinel.password,
      sentinelPassword: config.sentinel.sentinelPassword,
    });
  }
  return new Redis(config.url!, options);
}

export function connectRedis(
  config: RedisConfig,
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
  const client = createRedisClient(config, options);
  // The subscriber keeps its subscription across reconnects, so it may queue while offline.
  const subscriber = createRedisClient(config, {
    ...options,
    enableOfflineQueue: true,
    commandTimeout: undefined,
  });
  const target = describeRedis(config);
  // Undefined until the first connect settles: Redis unreachable at start is a `redis down` line.
  let up: boolean | undefined;
  let lastError = 'connection closed';
  const setUp = (value: boolean): void => {
    if (value !== up) {
      if (value) logger.info('redis up', { redis: target });
      else logger.warn('redis down', { redis: target, reason: lastError });
    }
    up = value;
    observer.redisUp(value);
  };
  observer.redisUp(false);
  client.on('ready', () => setUp(true));
  client.on('end', () => setUp(false));
  client.on('close', () => setUp(false));
  // ioredis error text can carry command arguments; log only the code.
  client.on('error', (err: NodeJS.ErrnoException) => {
    lastError = err.code ?? err.name;
    if (up) logger.warn('redis error', { code: err.code ?? err.name });
  });
  subscriber.on('error', () => undefined);
  return {
    client,
    subscriber,
    prefix: config.keyPrefix,
    isUp: () => up === true && client.status === 'ready',
    async close() {
      closing = true;
      client.disconnect();
      subscriber.disconnect();
    },
  };
}

const shas = new Map<string, string>();

/**
 * Runs a Lua script in one round trip: EVALSHA, and EVAL only when the server does not know the
 * script yet (after a restart or a failover). Works on a node, Sentinel and Cluster alike.
 */
export async function evalScript(
  client: RedisClient,
  script: string,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  let sha = shas.get(script);
  if (sha === undefined) {
    sha = createHash('sha1').update(script).digest('hex');
    shas.set(script, sha);
  }
  try {
    return await client.evalsha(sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
    return client.eval(script, keys.length, ...keys, ...args);
  }
}

/**
 * Subscribes to a channel on the handle's subscriber connection (no I/O before it is called). A
 * failed subscription is logged once at warn and retried every second (each retry at debug)
 * until it holds; ioredis re-subscribes by itself after reconnects. Returns the unsubscribe.
 */
export function subscribeWithRetry(
  redis: Pick<RedisHandle, 'subscriber'>,
  channel: string,
  onMessage: (message: string) => void,
  logger: Logger,
  what: string,
): () => void {
  const listener = (ch: string, message: string): void => {
    if (ch === channel) onMessage(message);
  };
  redis.subscriber.on('message', listener);
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const subscribe = (): void => {
    redis.subscriber.subscribe(channel).then(
      () => {
        if (failures > 0) logger.info(`${what} channel subscribed`, { failures });
        failures = 0;
      },
      (err: NodeJS.ErrnoException) => {
        if (stopped) return;
        const code = err.code ?? err.name;
        // Once at warn; every retry after that at debug, so the log says it is still trying.
        if (failures++ === 0) logger.warn(`${what} channel subscribe failed; retrying`, { code });
        else logger.debug(`${what} channel subscribe retry failed`, { code, failures });
        timer = setTimeout(subscribe, 1000);
        timer.unref();
      },
    );
  };
  subscribe();
  return () => {
    stopped = true;
    clearTimeout(timer);
    redis.subscriber.off('message', listener);
  };
}
