/**
 * `serve --workers N` with `server.reusePort: true` — each worker binds the port
 * itself (SO_REUSEPORT) and the kernel spreads connections — next to the cluster's round-robin
 * (the primary owns the one listening socket). Read from the kernel with `ss`: two listening
 * sockets owned by the workers, or one owned by the primary; every request answered either way,
 * and SIGTERM still drains and exits 0.
 */
import { execFileSync } from 'node:child_process';
import { request } from 'node:http';
import { spawnProxy } from '../../helpers/process';
import { freePort, route, startUpstream, type TestUpstream } from '../../helpers/servers';

jest.setTimeout(60_000);

/** The pids of the processes listening on a TCP port (one entry per listening socket). */
function listeners(port: number): number[] {
  const out = execFileSync('ss', ['-Hltnp', `sport = :${port}`], { encoding: 'utf8' });
  return [...out.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
}

function getNewConnection(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, { agent: false, headers: { Connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    })
      .on('error', reject)
      .end();
  });
}

describe.each([true, false])('serve --workers 2, server.reusePort %s', (reusePort) => {
  let upstream: TestUpstream;
  beforeAll(async () => {
    upstream = await startUpstream();
  });
  afterAll(() => upstream.close());

  it('binds as configured, answers every request, drains on SIGTERM', async () => {
    const port = await freePort();
    const proxy = await spawnProxy(
      {
        server: { port, host: '127.0.0.1', reusePort, drainDelayMs: 200, shutdownGraceMs: 5000 },
        routes: [route(upstream.url)],
      },
      {},
      ['--workers', '2'],
    );
    try {
      let owners: number[] = [];
      for (let i = 0; i < 50; i++) {
        owners = listeners(port);
        if (owners.length >= (reusePort ? 2 : 1)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      if (reusePort) {
        expect(owners).toHaveLength(2);
        expect(new Set(owners).size).toBe(2);
        expect(owners).not.toContain(proxy.pid); // the workers, not the primary
      } else {
        expect(owners).toEqual([proxy.pid]);
      }
      const statuses = await Promise.all(
        Array.from({ length: 40 }, () => getNewConnection(`${proxy.url}/x`)),
      );
      expect(statuses).toEqual(Array(40).fill(200));
    } finally {
      proxy.child.kill('SIGTERM');
      expect(await proxy.exited).toBe(0);
    }
  });
});
