/**
 * The API-key authenticator did I/O in its constructor (the Redis subscription for
 * revocations) and swallowed its failure. Now nothing happens until start(); a failed
 * subscription is logged once and retried until it holds, then logged as recovered.
 */
import { Redis } from 'ioredis';
import { ApiKeyAuthenticator, REVOCATION_CHANNEL } from '../../../src/auth/api-key';
import { parseConfig } from '../../../src/config/load';
import { createLogger } from '../../../src/logging/logger';
import { connectRedis, type RedisHandle } from '../../../src/redis';
import { NOOP_OBSERVER } from '../../../src/auth/observer';
import { startPrivateRedis } from '../../helpers/redis';
import { LogCapture } from '../../helpers/servers';
import { waitFor } from '../../helpers/wait';

jest.setTimeout(30_000);

const apiKeys = (url: string) =>
  parseConfig(
    {
      redis: { url, keyPrefix: 'lifecycle:' },
      auth: {
        apiKeys: {
          prefixes: ['hok_'],
          validateUrl: 'http://127.0.0.1:9/v',
          hashSecret: 'h'.repeat(32),
        },
      },
    },
    {},
    'test',
    { requireRoutes: false },
  );

async function subscribers(port: number, password?: string): Promise<number> {
  const r = new Redis({ port, host: '127.0.0.1', password });
  try {
    const [, count] = (await r.pubsub('NUMSUB', `lifecycle:${REVOCATION_CHANNEL}`)) as [
      string,
      number,
    ];
    return count;
  } finally {
    r.disconnect();
  }
}

const until = (what: () => Promise<boolean> | boolean): Promise<void> =>
  waitFor('the condition', what);

describe('ApiKeyAuthenticator.start()', () => {
  let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
  let handle: RedisHandle | undefined;
  afterEach(async () => {
    await handle?.close();
    await redis?.stop();
  });

  it('the constructor subscribes to nothing; start() does', async () => {
    redis = await startPrivateRedis();
    const config = apiKeys(redis.url);
    const logs = new LogCapture();
    const logger = createLogger({ level: 'info', stream: logs });
    handle = connectRedis(config.redis, logger, NOOP_OBSERVER);
    const authenticator = new ApiKeyAuthenticator(config.auth.apiKeys!, { logger, redis: handle });
    await until(() => handle!.isUp());
    // an absence: nothing subscribes within 200 ms of the connection being up
    await new Promise((r) => setTimeout(r, 200));
    expect(await subscribers(redis.port)).toBe(0);
    authenticator.start();
    await until(async () => (await subscribers(redis.port)) === 1);
    authenticator.stop();
  });

  it('a failed subscription is logged once, retried, and logged when it holds', async () => {
    redis = await startPrivateRedis(undefined, 'lifecycle-password');
    const config = apiKeys(redis.url); // no password: every command is refused (NOAUTH)
    const logs = new LogCapture();
    const logger = createLogger({ level: 'debug', stream: logs });
    handle = connectRedis(config.redis, logger, NOOP_OBSERVER);
    const authenticator = new ApiKeyAuthenticator(config.auth.apiKeys!, { logger, redis: handle });
    authenticator.start();
    const lines = (m: string) => logs.entries().filter((l) => l.message === m);
    await until(() => lines('revocation channel subscribe failed; retrying').length === 1);
    // two more retries (each logged at debug), still one warn line
    await until(() => lines('revocation channel subscribe retry failed').length >= 2);
    expect(lines('revocation channel subscribe failed; retrying')).toHaveLength(1);
    expect(lines('revocation channel subscribe failed; retrying')[0]).toMatchObject({
      level: 'warn',
    });
    // the operator fixes Redis: the next retry holds
    const admin = new Redis({
      port: redis.port,
      host: '127.0.0.1',
      password: 'lifecycle-password',
    });
    await admin.config('SET', 'requirepass', '');
    admin.disconnect();
    await until(() => lines('revocation channel subscribed').length === 1);
    await until(async () => (await subscribers(redis.port)) === 1);
    authenticator.stop();
  });
});
