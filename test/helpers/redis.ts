import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
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
  password?: string,
): Promise<{ url: string; port: number; stop(): Promise<void> }> {
  const port = atPort ?? (await freePort());
  const auth = password === undefined ? [] : ['--requirepass', password];
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...auth],
    {
      stdio: 'ignore',
    },
  );
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 50; i++) {
    const probe = new Redis(url, {
      password,
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

function spawnRedis(args: string[]): ChildProcess {
  return spawn('redis-server', args, { stdio: 'ignore' });
}

async function untilTrue(what: string, probe: () => Promise<boolean>, tries = 100): Promise<void> {
  for (let i = 0; i < tries; i++) {
    try {
      if (await probe()) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not come up`);
}

async function ask(port: number, ...command: [string, ...string[]]): Promise<unknown> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null });
  try {
    await r.connect();
    return await r.call(...command);
  } finally {
    r.disconnect();
  }
}

function stopAll(children: ChildProcess[]): Promise<void> {
  return Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGKILL');
        }),
    ),
  ).then(() => undefined);
}

/** A real master plus one real `redis-server --sentinel` monitoring it as `name`. */
export async function startSentinel(name = 'authgate-test'): Promise<{
  masterPort: number;
  sentinelPort: number;
  stop(): Promise<void>;
}> {
  const masterPort = await freePort();
  const sentinelPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'authgate-sentinel-'));
  const conf = join(dir, 'sentinel.conf');
  // Sentinel rewrites its config file, so it must be a writable file of its own.
  writeFileSync(
    conf,
    [
      `port ${sentinelPort}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${name} 127.0.0.1 ${masterPort} 1`,
      `sentinel down-after-milliseconds ${name} 1000`,
      '',
    ].join('\n'),
  );
  const children = [
    spawnRedis([
      '--port',
      String(masterPort),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
    ]),
    spawnRedis([conf, '--sentinel']),
  ];
  await untilTrue('sentinel', async () => {
    const addr = (await ask(sentinelPort, 'SENTINEL', 'get-master-addr-by-name', name)) as string[];
    return addr?.[1] === String(masterPort) && (await ask(masterPort, 'PING')) === 'PONG';
  });
  return { masterPort, sentinelPort, stop: () => stopAll(children) };
}

/** A real three-master Redis Cluster on loopback (redis-cli --cluster create). */
export async function startRedisCluster(): Promise<{ ports: number[]; stop(): Promise<void> }> {
  const ports = [await freePort(), await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'authgate-cluster-'));
  const children = ports.map((port) =>
    spawnRedis([
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      join(dir, `nodes-${port}.conf`),
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
    ]),
  );
  await untilTrue('cluster nodes', async () => {
    for (const p of ports) if ((await ask(p, 'PING')) !== 'PONG') return false;
    return true;
  });
  await new Promise<void>((resolve, reject) => {
    const create = spawn(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...ports.map((p) => `127.0.0.1:${p}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { stdio: 'ignore' },
    );
    create.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`cluster create: ${code}`)),
    );
  });
  await untilTrue('cluster state ok', async () => {
    for (const p of ports) {
      const info = String(await ask(p, 'CLUSTER', 'INFO'));
      if (!info.includes('cluster_state:ok')) return false;
    }
    return true;
  });
  // Every node must also agree on the whole slot map before a client is told to use it: a
  // client that connects while the epochs still propagate gets a partial map.
  await untilTrue('cluster slot map agreed', async () => {
    const maps = await Promise.all(ports.map((p) => ask(p, 'CLUSTER', 'SLOTS')));
    const covered = (m: unknown) =>
      (m as Array<[number, number]>).reduce((sum, [from, to]) => sum + (to - from + 1), 0);
    return (
      maps.every((m) => covered(m) === 16384) &&
      new Set(maps.map((m) => JSON.stringify(m))).size === 1
    );
  });
  // ...and a real cluster client must get a write through.
  await untilTrue('cluster accepts writes', async () => {
    const c = new Cluster(
      ports.map((port) => ({ host: '127.0.0.1', port })),
      {
        clusterRetryStrategy: () => null,
      },
    );
    try {
      await c.set('authgate-test:probe', '1');
      return (await c.get('authgate-test:probe')) === '1';
    } finally {
      c.disconnect();
    }
  });
  return { ports, stop: () => stopAll(children) };
}
