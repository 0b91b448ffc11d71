/**
 * A rolling restart behind a real load balancer that does not retry loses nothing.
 * HAProxy (Debian's) in front of two authgate processes, health checks on /readyz, `retries 0`
 * and no redispatch (like an ALB); steady load on new connections and on kept-alive ones;
 * restart one instance, then the other: zero failed requests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnProxy, type ProxyProcess } from '../helpers/process';
import { freePort, route, startUpstream, type TestUpstream } from '../helpers/servers';

jest.setTimeout(120_000);

const HAPROXY = process.env.HAPROXY_PATH ?? '/usr/sbin/haproxy';

function get(url: string, agent: Agent | false): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function waitFor(check: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('condition not met in time');
}

describe('rolling restart behind HAProxy (retries 0, like an ALB)', () => {
  let upstream: TestUpstream;
  let haproxy: ChildProcess;
  let front: string;
  let statsUrl: string;
  const ports: number[] = [];
  const instances: ProxyProcess[] = [];

  const startInstance = (port: number) =>
    spawnProxy({
      server: { port, host: '127.0.0.1', drainDelayMs: 1500, shutdownGraceMs: 10_000 },
      logging: { level: 'info' },
      routes: [route(upstream.url)],
    });

  /** Both backends UP in HAProxy's own view (its CSV stats). */
  const bothUp = async (): Promise<boolean> => {
    const csv = await (await fetch(statsUrl)).text();
    return (
      csv.split('\n').filter((l) => l.startsWith('authgate,a') && l.split(',')[17] === 'UP')
        .length === 2
    );
  };

  beforeAll(async () => {
    upstream = await startUpstream((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok');
    });
    ports.push(await freePort(), await freePort());
    for (const p of ports) instances.push(await startInstance(p));
    const frontPort = await freePort();
    const statsPort = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'authgate-haproxy-'));
    const cfg = join(dir, 'haproxy.cfg');
    writeFileSync(
      cfg,
      [
        'global',
        '  maxconn 1000',
        'defaults',
        '  mode http',
        '  timeout connect 2s',
        '  timeout client 30s',
        '  timeout server 30s',
        '  retries 0',
        '  option http-keep-alive',
        'frontend web',
        `  bind 127.0.0.1:${frontPort}`,
        '  default_backend authgate',
        'frontend stats',
        `  bind 127.0.0.1:${statsPort}`,
        '  stats enable',
        '  stats uri /stats',
        'backend authgate',
        '  balance roundrobin',
        '  option httpchk GET /readyz',
        '  http-check expect status 200',
        '  default-server inter 250ms fall 2 rise 2',
        ...ports.map((p, i) => `  server a${i} 127.0.0.1:${p} check`),
        '',
      ].join('\n'),
    );
    haproxy = spawn(HAPROXY, ['-f', cfg, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
    front = `http://127.0.0.1:${frontPort}`;
    statsUrl = `http://127.0.0.1:${statsPort}/stats;csv`;
    await waitFor(bothUp, 15_000);
  });
  afterAll(async () => {
    haproxy?.kill('SIGTERM');
    for (const i of instances) {
      i.child.kill('SIGTERM');
      await i.exited;
    }
    await upstream?.close();
  });

  it('restarting one instance, then the other, fails no request', async () => {
    let running = true;
    const outcomes = { ok: 0, failed: [] as string[] };
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 4 });
    const worker = async (agent: Agent | false): Promise<void> => {
      // bounded: at most 60 s of load, whatever happens
      const deadline = Date.now() + 60_000;
      while (running && Date.now() < deadline) {
        try {
          const status = await get(`${front}/load`, agent);
          if (status === 200) outcomes.ok++;
          else outcomes.failed.push(`status ${status}`);
        } catch (err) {
          outcomes.failed.push((err as Error).message);
        }
      }
    };
    const load = [worker(false), worker(false), worker(keepAlive), worker(keepAlive)];

    for (let i = 0; i < instances.length; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const old = instances[i]!;
      old.child.kill('SIGTERM');
      expect(await old.exited).toBe(0);
      instances[i] = await startInstance(ports[i]!);
      await waitFor(bothUp, 15_000);
    }
    await new Promise((r) => setTimeout(r, 500));
    running = false;
    await Promise.all(load);
    keepAlive.destroy();

    console.log(
      `rolling restart behind HAProxy: ${outcomes.ok} ok, ${outcomes.failed.length} failed`,
    );
    expect(outcomes.failed).toEqual([]);
    expect(outcomes.ok).toBeGreaterThan(200);
  });
});
