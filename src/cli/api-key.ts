/**
 * `authgate api-key revoke`: reads one key from stdin (never from argv, which `ps` shows),
 * deletes its cache entry in Redis and tells every running instance to drop it.
 */
import { apiKeyId, revokeInRedis } from '../auth/api-key';
import { loadCliConfig } from './config-loader';
import { createRedisClient, redisConfigured } from '../redis';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}

export async function apiKeyCommand(
  argv: string[],
  configFlag: string | undefined,
): Promise<number> {
  if (argv[0] !== 'revoke') {
    console.error('usage: authgate api-key revoke [--config FILE]   (the key is read from stdin)');
    return 2;
  }
  const loaded = loadCliConfig(configFlag);
  if (!loaded) return 1;
  const { config } = loaded;
  const apiKeys = config.auth.apiKeys;
  if (!apiKeys || !redisConfigured(config.redis) || !apiKeys.hashSecret) {
    console.error(
      'authgate: revocation needs auth.apiKeys with hashSecret and redis (url, sentinel or cluster, shared by the instances)',
    );
    return 1;
  }
  const key = await readStdin();
  if (key === '') {
    console.error('authgate: no key on stdin');
    return 1;
  }
  const client = createRedisClient(config.redis, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    const receivers = await revokeInRedis(
      { client, prefix: config.redis.keyPrefix },
      apiKeyId(apiKeys.hashSecret, key),
    );
    console.log(`revoked; ${receivers} running instance(s) notified`);
    return 0;
  } catch (err) {
    console.error(`authgate: Redis: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    return 1;
  } finally {
    client.disconnect();
  }
}
