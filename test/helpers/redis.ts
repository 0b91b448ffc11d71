import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { freePort } from './servers';

/** The machine's Redis (REDIS_URL or 127.0.0.1:6379); tests isolate themselves by key prefix. */
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export function uniquePrefix(): string {
  return `authgate-test:${randomUUID()}:`;
}

export async function redisKeys(prefix: string): Promise<Array<[string, string | null]>> {
  const r = new Redis(REDIS_URL);
  try {
    const keys = await r.keys(`${prefix}*`);
    const values = await Promise.all(keys.map((k) => r.get(k)));
    return keys.map((k, i) => [k, values[i] ?? null]);
  } finally {
    r.disconnect();
  }
}

/** A private redis-server process (to be killed mid-test: "Redis down mid-traffic"). */
export async function startPrivateRedis(
  atPort?: number,
): Promise<{ url: string; port: number; stop(): Promise<void> }> {
  const port = atPort ?? (await freePort());
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 50; i++) {
    const probe = new Redis(url, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      break;
    } catch {
      probe.disconnect();
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}
