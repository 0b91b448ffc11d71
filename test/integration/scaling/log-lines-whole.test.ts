/**
 * `serve --workers 2` at info under load: both workers write their access lines to the one
 * stdout pipe, and every line read from it is one whole JSON object — no line of one worker
 * lands in the middle of another's (batched writes stay within what a pipe writes at once).
 */
import { Agent, request } from 'node:http';
import { spawnProxy, type ProxyProcess } from '../../helpers/process';
import { freePort, route, startUpstream, type TestUpstream } from '../../helpers/servers';
import { waitFor } from '../../helpers/wait';

jest.setTimeout(120_000);

describe('log lines never tear between workers', () => {
  let upstream: TestUpstream;
  let proxy: ProxyProcess;
  beforeAll(async () => {
    upstream = await startUpstream();
    proxy = await spawnProxy(
      {
        server: { port: await freePort(), host: '127.0.0.1', shutdownGraceMs: 5000 },
        logging: { level: 'info' },
        routes: [route(upstream.url)],
      },
      {},
      ['--workers', '2'],
    );
  });
  afterAll(async () => {
    proxy?.child.kill('SIGTERM');
    await proxy?.exited;
    await upstream?.close();
  });

  it('every line parses when the reader falls behind and both workers wait on a full pipe', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 64 });
    const paths: string[] = [];
    let done = 0;
    const one = (i: number) =>
      new Promise<void>((resolve, reject) => {
        // a long path makes long lines: a batch of them passes 4 KiB within a few requests
        const path = `/load/${i}/${'p'.repeat(1500)}`;
        paths.push(path);
        request(`${proxy.url}${path}`, { agent }, (res) => {
          res.resume();
          res.on('end', () => {
            done++;
            resolve();
          });
        })
          .on('error', reject)
          .end();
      });
    const TOTAL = 12000;
    const load = (async () => {
      for (let i = 0; i < TOTAL; i += 64) {
        await Promise.all(Array.from({ length: Math.min(64, TOTAL - i) }, (_, k) => one(i + k)));
      }
    })();
    // Five times: stop reading the workers' stdout until the pipe is full and both block in
    // write() (no request completes for 300 ms), then read again: the pipe drains a little at a
    // time, and each worker's pending write goes in in pieces.
    const stdout = proxy.child.stdout!;
    for (let round = 0; round < 5 && done < TOTAL; round++) {
      stdout.pause();
      let last = -1;
      let since = Date.now();
      await waitFor('the workers to block on the full pipe', () => {
        if (done !== last) {
          last = done;
          since = Date.now();
        }
        return done >= TOTAL || Date.now() - since > 300;
      });
      stdout.resume();
      const resumedAt = done;
      await waitFor('requests to flow again', () => done > resumedAt + 200 || done >= TOTAL);
    }
    await load;
    agent.destroy();
    const access = () => proxy.stdout.filter((l) => l.includes('"path":"/load/'));
    // every access line has arrived (counted in the text, whole or not)
    const marks = () => proxy.stdout.reduce((n, l) => n + l.split('"path":"/load/').length - 1, 0);
    await waitFor('every access line', () => marks() >= TOTAL, { timeoutMs: 60_000 });
    const torn = proxy.stdout.filter((l) => {
      try {
        JSON.parse(l);
        return false;
      } catch {
        return true;
      }
    });
    expect(torn.map((l) => l.slice(0, 120))).toEqual([]);
    const logged = new Set(access().map((l) => (JSON.parse(l) as { path: string }).path));
    expect(paths.filter((p) => !logged.has(p))).toEqual([]);
  });
});
