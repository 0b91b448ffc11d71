/**
 * Issue 10.3: `serve --workers N`: before, each worker had its own metrics, so scrapes
 * alternated between workers and counters appeared to reset. Now the primary serves the
 * aggregate of every worker; a worker that dies is replaced and logged; SIGTERM drains all.
 */
import { request } from 'node:http';
import { spawnProxy, type ProxyProcess } from '../../helpers/process';
import { freePort, route, startUpstream, type TestUpstream } from '../../helpers/servers';

jest.setTimeout(60_000);

function get(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    })
      .on('error', reject)
      .end();
  });
}

const total = (text: string): number =>
  [...text.matchAll(/^authgate_http_requests_total\{[^}]*route="api"[^}]*\} (\d+)/gm)].reduce(
    (sum, m) => sum + Number(m[1]),
    0,
  );

describe('cluster mode: serve --workers 2', () => {
  let upstream: TestUpstream;
  let proxy: ProxyProcess;
  let metricsUrl: string;
  const lines = () =>
    proxy.stdout.flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });

  beforeAll(async () => {
    upstream = await startUpstream();
    const metricsPort = await freePort();
    metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    proxy = await spawnProxy(
      {
        server: {
          port: await freePort(),
          host: '127.0.0.1',
          drainDelayMs: 300,
          shutdownGraceMs: 5000,
        },
        metrics: { port: metricsPort },
        routes: [route(upstream.url)],
      },
      {},
      ['--workers', '2'],
    );
    // both workers listening
    for (let i = 0; i < 100 && lines().filter((l) => l.message === 'listening').length < 2; i++)
      await new Promise((r) => setTimeout(r, 50));
  });
  afterAll(async () => {
    if (proxy.child.exitCode === null) {
      proxy.child.kill('SIGTERM');
      await proxy.exited;
    }
    await upstream.close();
  });

  it('/metrics on the primary aggregates every worker', async () => {
    const workers = new Set(
      lines()
        .filter((l) => l.message === 'listening')
        .map((l) => l.pid),
    );
    expect(workers.size).toBe(2);
    for (let i = 0; i < 40; i++) expect(await get(`${proxy.url}/x${i}`)).toBe(200);
    // the same total on every scrape, whichever worker served which request
    for (let i = 0; i < 3; i++) expect(total(await (await fetch(metricsUrl)).text())).toBe(40);
  });

  it('a worker that dies is replaced and logged; requests keep being served', async () => {
    const pids = lines()
      .filter((l) => l.message === 'listening')
      .map((l) => Number(l.pid));
    process.kill(pids[0]!, 'SIGKILL');
    for (
      let i = 0;
      i < 100 && !lines().some((l) => l.message === 'worker exited; started a replacement');
      i++
    )
      await new Promise((r) => setTimeout(r, 50));
    const exited = lines().find((l) => l.message === 'worker exited; started a replacement');
    expect(exited).toMatchObject({ level: 'warn', pid: pids[0], signal: 'SIGKILL' });
    for (let i = 0; i < 100 && lines().filter((l) => l.message === 'listening').length < 3; i++)
      await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 20; i++) expect(await get(`${proxy.url}/after${i}`)).toBe(200);
    const text = await (await fetch(metricsUrl)).text();
    expect(total(text)).toBeGreaterThanOrEqual(20);
  });

  it('SIGTERM drains every worker and the primary exits 0', async () => {
    proxy.child.kill('SIGTERM');
    expect(await proxy.exited).toBe(0);
    expect(lines().some((l) => l.message === 'draining workers')).toBe(true);
  });
});
