import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import supertest from 'supertest';
import { spawnProxy } from '../helpers/process';
import { route, startProxy, startUpstream } from '../helpers/servers';

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

  it('finishes requests in flight, refuses new connections, exits 0', async () => {
    const proxy = await spawnProxy({
      server: { port: 0, host: '127.0.0.1', shutdownGraceMs: 10_000 },
      routes: [route(`http://127.0.0.1:${upstreamPort}`)],
    });
    const inUpstream = new Promise<void>((r) => (arrived = r));
    const inFlight = [get(`${proxy.url}/slow-1`), get(`${proxy.url}/slow-2`)];
    await inUpstream;
    proxy.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));

    await expect(get(`${proxy.url}/new`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
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
  it('readiness goes 503 and requests on open connections get 503 SHUTTING_DOWN', async () => {
    const upstream = await startUpstream();
    const proxy = await startProxy({ routes: [route(upstream.url)] });
    try {
      expect((await supertest(proxy.url).get('/readyz')).status).toBe(200);
      proxy.running.app.startDraining();
      const ready = await supertest(proxy.url).get('/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body).toEqual({ status: 'draining' });
      expect((await supertest(proxy.url).get('/healthz')).status).toBe(200);
      const res = await supertest(proxy.url).get('/x');
      expect(res.status).toBe(503);
      expect(res.body.error_code).toBe('SHUTTING_DOWN');
      expect(res.headers.connection).toBe('close');
    } finally {
      await proxy.close();
      await upstream.close();
    }
  });
});
