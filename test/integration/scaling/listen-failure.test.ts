/**
 * Found while building `serve` on a port already taken printed the error but never
 * exited (the Redis connection kept the process alive), so a supervisor saw a live process
 * that served nothing. Now it logs one JSON line and exits 1.
 */
import { createServer, type Server } from 'node:net';
import { spawn } from 'node:child_process';
import { CLI, ROOT, writeConfig } from '../../helpers/process';
import { REDIS_URL, uniquePrefix } from '../../helpers/redis';
import { freePort, route } from '../../helpers/servers';

it('serve exits 1 with a JSON line when its port is taken, Redis connected or not', async () => {
  const port = await freePort();
  const taken: Server = createServer();
  await new Promise<void>((r) => taken.listen(port, '127.0.0.1', r));
  try {
    const file = writeConfig({
      server: { port, host: '127.0.0.1' },
      metrics: { port: 0 },
      redis: { url: REDIS_URL, keyPrefix: uniquePrefix() },
      routes: [route('http://127.0.0.1:9', { rateLimit: { requestsPerMinute: 60 } })],
    });
    const child = spawn(process.execPath, [CLI, 'serve', '--config', file], { cwd: ROOT });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(-1);
      }, 10_000);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    expect(code).toBe(1);
    const line = stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.message === 'could not start');
    expect(line).toMatchObject({ level: 'error', code: 'EADDRINUSE' });
  } finally {
    taken.close();
  }
});
