import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import supertest from 'supertest';
import { spawnProxy } from '../helpers/process';
import { route, startProxy, startUpstream } from '../helpers/servers';
import { waitFor } from '../helpers/wait';

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

describe('graceful drain on SIGTERM (real process)', () => {
  let upstream: Server;
  let upstreamPort: number;
  let arrived: () => void = () => undefined;

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      arrived();
      setTimeout(() => res.end(`done ${req.url}`), 1500);
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    upstreamPort = (upstream.address() as AddressInfo).port;
  });
  afterAll(async () => {
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
  });

  it('readiness 503 at once, every request served for drainDelayMs, then the listener closes; in-flight requests finish; exit 0', async () => {
    const proxy = await spawnProxy({
      server: { port: 0, host: '127.0.0.1', drainDelayMs: 3000, shutdownGraceMs: 10_000 },
      routes: [route(`http://127.0.0.1:${upstreamPort}`)],
    });
    const inUpstream = new Promise<void>((r) => (arrived = r));
    const inFlight = [get(`${proxy.url}/slow-1`), get(`${proxy.url}/slow-2`)];
    await inUpstream;
    proxy.child.kill('SIGTERM');

    // the drain delay: not ready, but new connections and requests are still served
    await waitFor(
      'readiness to fail',
      async () => (await get(`${proxy.url}/readyz`)).status === 503,
    );
    expect((await get(`${proxy.url}/healthz`)).status).toBe(200);
    const during = get(`${proxy.url}/during-delay`);
    await waitFor('the listener to close', () =>
      get(`${proxy.url}/new`).then(
        () => false,
        (e: NodeJS.ErrnoException) => e.code === 'ECONNREFUSED',
      ),
    );
    expect(await during).toEqual({ status: 200, body: 'done /during-delay' });
    const results = await Promise.all(inFlight);
    expect(results.map((r) => r.status)).toEqual([200, 200]);
    expect(results.map((r) => r.body).sort()).toEqual(['done /slow-1', 'done /slow-2']);
    expect(await proxy.exited).toBe(0);
    const lines = proxy.stdout.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => l.message === 'stopped')).toMatchObject({ drained: true });
  });

  it('gives up after shutdownGraceMs and still exits 0', async () => {
    const proxy = await spawnProxy({
      server: { port: 0, host: '127.0.0.1', shutdownGraceMs: 300 },
      routes: [route(`http://127.0.0.1:${upstreamPort}`)],
    });
    const inUpstream = new Promise<void>((r) => (arrived = r));
    const pending = get(`${proxy.url}/too-slow`).catch((err: NodeJS.ErrnoException) => err.code);
    await inUpstream;
    proxy.child.kill('SIGTERM');
    expect(await proxy.exited).toBe(0);
    expect(await pending).toBe('ECONNRESET');
    const lines = proxy.stdout.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => l.message === 'stopped')).toMatchObject({ drained: false });
  });
});

describe('draining state (in process)', () => {
  it('while draining, readiness is 503 and requests are still served, each closing its connection', async () => {
    const upstream = await startUpstream();
    const proxy = await startProxy({ routes: [route(upstream.url)] });
    try {
      expect((await supertest(proxy.url).get('/readyz')).status).toBe(200);
      proxy.running.app.startDraining();
      const ready = await supertest(proxy.url).get('/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body).toEqual({ status: 'draining' });
      expect((await supertest(proxy.url).get('/healthz')).status).toBe(200);
      const served = await supertest(proxy.url).get('/x');
      expect(served.status).toBe(200);
      // kept-alive clients are told to reconnect elsewhere while this instance still serves
      expect(served.headers.connection).toBe('close');
      proxy.running.app.startClosing();
      const closing = await supertest(proxy.url).get('/x');
      expect(closing.status).toBe(200);
      expect(closing.headers.connection).toBe('close');
      proxy.running.app.stop();
      const stopped = await supertest(proxy.url).get('/x');
      expect(stopped.status).toBe(503);
      expect(stopped.body.error_code).toBe('SHUTTING_DOWN');
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });
});
