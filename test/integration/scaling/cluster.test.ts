/**
 * `serve --workers N`: before, each worker had its own metrics, so scrapes
 * alternated between workers and counters appeared to reset. Now the primary serves the
 * aggregate of every worker; a worker that dies is replaced and logged; SIGTERM drains all.
 */
import { Agent, request, type ClientRequest } from 'node:http';
import { spawnProxy, type ProxyProcess } from '../../helpers/process';
import { freePort, route, startUpstream, type TestUpstream } from '../../helpers/servers';
import { waitFor } from '../../helpers/wait';

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

/** `serve --workers 2` on an echo upstream, its JSON lines parsed, for one describe block. */
function useCluster(): {
  proxy(): ProxyProcess;
  metricsUrl(): string;
  lines(): Array<Record<string, unknown>>;
} {
  let upstream: TestUpstream;
  let proxy: ProxyProcess;
  let metricsUrl = '';
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
  return { proxy: () => proxy, metricsUrl: () => metricsUrl, lines };
}

describe('cluster mode: serve --workers 2', () => {
  const cluster = useCluster();
  const lines = cluster.lines;

  it('/metrics on the primary aggregates every worker', async () => {
    const workers = new Set(
      lines()
        .filter((l) => l.message === 'listening')
        .map((l) => l.pid),
    );
    expect(workers.size).toBe(2);
    for (let i = 0; i < 40; i++) expect(await get(`${cluster.proxy().url}/x${i}`)).toBe(200);
    // the same total on every scrape, whichever worker served which request
    for (let i = 0; i < 3; i++)
      expect(total(await (await fetch(cluster.metricsUrl())).text())).toBe(40);
  });

  it('"up" gauges and build_info are not summed over the workers', async () => {
    const text = await (await fetch(cluster.metricsUrl())).text();
    const value = (name: string) =>
      [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].map((m) =>
        Number(m[1]),
      );
    // two workers, each 1 (no API keys: the service is never down) — the aggregate is 1, not 2
    expect(value('authgate_auth_service_up')).toEqual([1]);
    // no Redis configured: each worker 0
    expect(value('authgate_redis_up')).toEqual([0]);
    expect(value('authgate_build_info')).toEqual([1]);
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
    for (let i = 0; i < 20; i++) expect(await get(`${cluster.proxy().url}/after${i}`)).toBe(200);
    const text = await (await fetch(cluster.metricsUrl())).text();
    expect(total(text)).toBeGreaterThanOrEqual(20);
  });

  it('SIGTERM drains every worker and the primary exits 0', async () => {
    cluster.proxy().child.kill('SIGTERM');
    expect(await cluster.proxy().exited).toBe(0);
    // Lines written as the primary exits can reach this process after its 'exit' event.
    await waitFor('the drain line', () => lines().some((l) => l.message === 'draining workers'));
  });
});

describe('a worker stopped or killed under load', () => {
  const cluster = useCluster();
  const lines = cluster.lines;
  const listening = () => lines().filter((l) => l.message === 'listening');
  /** The load of the running test, stopped after it even when an assertion failed. */
  let current: ReturnType<typeof load> | undefined;
  afterEach(async () => {
    await current?.stop();
    current = undefined;
  });
  const replaced = () =>
    lines().filter((l) => l.message === 'worker exited; started a replacement');
  const scrapeTotal = async (): Promise<number> =>
    total(await (await fetch(cluster.metricsUrl())).text());
  const until = async (what: () => boolean): Promise<void> => {
    for (let i = 0; i < 200 && !what(); i++) await new Promise((r) => setTimeout(r, 25));
    expect(what()).toBe(true);
  };

  /** Steady load until stopped: 3 clients on new connections, 3 on kept-alive ones. */
  function load(): { stop(): Promise<{ ok: number; failed: string[] }> } {
    let running = true;
    let ok = 0;
    const failed: string[] = [];
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 3 });
    const one = (agent: Agent | false, i: number): Promise<void> =>
      new Promise((resolve) => {
        // a connection the primary handed to a worker as it was killed is never answered
        request(`${cluster.proxy().url}/load${i}`, { agent, timeout: 5000 }, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) ok++;
            else failed.push(String(res.statusCode));
            resolve();
          });
        })
          .on('timeout', function (this: ClientRequest) {
            this.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' }));
          })
          .on('error', (err: NodeJS.ErrnoException) => {
            failed.push(err.code ?? err.message);
            resolve();
          })
          .end();
      });
    const client = async (agent: Agent | false): Promise<void> => {
      for (let i = 0; running; i++) await one(agent, i);
    };
    const clients = [false, false, false, keepAlive, keepAlive, keepAlive].map((a) =>
      client(a as Agent | false),
    );
    return {
      async stop() {
        running = false;
        await Promise.all(clients);
        keepAlive.destroy();
        return { ok, failed };
      },
    };
  }

  it('SIGTERM to one worker under load: no failed request, the replacement logged, every request still counted', async () => {
    const traffic = (current = load());
    await new Promise((r) => setTimeout(r, 700));
    const before = await scrapeTotal();
    expect(before).toBeGreaterThan(0);
    const victim = Number(listening()[0]!.pid);
    process.kill(victim, 'SIGTERM');
    await until(() => replaced().length === 1 && listening().length >= 3);
    await new Promise((r) => setTimeout(r, 700));
    const { ok, failed } = await traffic.stop();
    expect(failed).toEqual([]);
    expect(ok).toBeGreaterThan(100);
    expect(replaced()[0]).toMatchObject({ level: 'warn', pid: victim, exit_code: 0, signal: null });
    // the stopped worker's final snapshot stays in the aggregate: nothing lost, nothing reset
    const after = await scrapeTotal();
    expect(after).toBe(ok);
    expect(after).toBeGreaterThan(before);
  });

  it('SIGKILL under load: only requests in flight on that worker can fail, and the aggregate never goes down', async () => {
    const start = await scrapeTotal();
    const traffic = (current = load());
    await new Promise((r) => setTimeout(r, 500));
    const before = await scrapeTotal();
    const victim = Number(listening().at(-1)!.pid);
    process.kill(victim, 'SIGKILL');
    await until(() => replaced().length === 2 && listening().length >= 4);
    await new Promise((r) => setTimeout(r, 500));
    const { ok, failed } = await traffic.stop();
    expect(replaced()[1]).toMatchObject({ pid: victim, signal: 'SIGKILL' });
    // at most one request per client was in flight on the killed worker
    expect(failed.length).toBeLessThanOrEqual(6);
    expect(ok).toBeGreaterThan(100);
    const after = await scrapeTotal();
    expect(after).toBeGreaterThanOrEqual(before);
    expect(after).toBeGreaterThan(start);
  });
});
