import { createServer, type Server } from 'node:http';
import {
  createServer as createNetServer,
  type AddressInfo,
  type Server as NetServer,
  type Socket,
} from 'node:net';
import request from 'supertest';
import { route, startProxy, type TestProxy } from '../helpers/servers';

/** A port that had a listener and no longer has: connections are refused. */
async function closedPort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

function expectNoEcho(text: string, ...secrets: string[]): void {
  for (const s of secrets) expect(text).not.toContain(s);
}

describe('upstream failures become typed 502/504 bodies', () => {
  let slow: Server;
  let silentTcp: NetServer;
  let garbage: NetServer;
  let proxy: TestProxy;
  let refusedPort: number;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    refusedPort = await closedPort();
    slow = createServer(() => {
      /* never answers */
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    // Accepts the connection, reads, never writes: a hung upstream.
    silentTcp = createNetServer((sock) => {
      sockets.push(sock);
      sock.resume();
    });
    await new Promise<void>((r) => silentTcp.listen(0, '127.0.0.1', r));
    garbage = createNetServer((sock) => {
      sockets.push(sock);
      sock.end('NOT HTTP AT ALL\r\n\r\n');
    });
    await new Promise<void>((r) => garbage.listen(0, '127.0.0.1', r));
    const port = (s: { address(): unknown }): number => (s.address() as AddressInfo).port;
    proxy = await startProxy({
      routes: [
        route(`http://127.0.0.1:${refusedPort}/base`, { name: 'refused', prefix: '/refused' }),
        route(`http://127.0.0.1:${port(slow)}`, {
          name: 'slow',
          prefix: '/slow',
          timeouts: { responseMs: 300 },
        }),
        route(`http://127.0.0.1:${port(silentTcp)}`, {
          name: 'silent',
          prefix: '/silent',
          timeouts: { responseMs: 300 },
        }),
        route(`http://127.0.0.1:${port(garbage)}`, { name: 'garbage', prefix: '/garbage' }),
      ],
    });
  });
  afterAll(async () => {
    await proxy.close();
    slow.closeAllConnections();
    await new Promise((r) => slow.close(r));
    for (const s of sockets) s.destroy();
    await new Promise((r) => silentTcp.close(r));
    await new Promise((r) => garbage.close(r));
  });

  it('refused connection → 502 UPSTREAM_UNAVAILABLE, no URL, query, host or header echoed', async () => {
    const res = await request(proxy.url)
      .get('/refused/secret-path?token=hunter2&q=1')
      .set('Host', 'private-host.example')
      .set('X-Request-ID', 'rid-502')
      .set('Authorization', 'Bearer my-secret-token');
    expect(res.status).toBe(502);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.body).toEqual({
      error: 'Bad gateway',
      error_code: 'UPSTREAM_UNAVAILABLE',
      message: expect.any(String),
      status: 502,
      origin: 'proxy',
      request_id: 'rid-502',
    });
    expectNoEcho(
      res.text,
      'secret-path',
      'hunter2',
      'private-host',
      'my-secret-token',
      String(refusedPort),
      '127.0.0.1',
      '/base',
    );
  });

  it('silent upstream → 504 UPSTREAM_TIMEOUT after responseMs', async () => {
    const res = await request(proxy.url).get('/slow/x?token=qzxqzx-query-secret');
    expect(res.status).toBe(504);
    expect(res.body.error_code).toBe('UPSTREAM_TIMEOUT');
    expect(res.body.error).toBe('Gateway timeout');
    // (a short secret like 'abc' could appear inside the random request id: this one cannot)
    expectNoEcho(res.text, '/slow', 'token=', 'qzxqzx-query-secret');
  });

  it('hung TCP upstream → 504 UPSTREAM_TIMEOUT', async () => {
    const res = await request(proxy.url).post('/silent/x').send('body');
    expect(res.status).toBe(504);
    expect(res.body.error_code).toBe('UPSTREAM_TIMEOUT');
  });

  it('non-HTTP upstream → 502 UPSTREAM_UNAVAILABLE', async () => {
    const res = await request(proxy.url).get('/garbage/x');
    expect(res.status).toBe(502);
    expect(res.body.error_code).toBe('UPSTREAM_UNAVAILABLE');
  });

  it('HEAD gets the status and headers, no body', async () => {
    const res = await request(proxy.url).head('/refused/x');
    expect(res.status).toBe(502);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.text ?? '').toBe('');
  });

  it('logs the failure kind without the URL', async () => {
    await request(proxy.url).get('/refused/another?password=pw1');
    const line = proxy.logs.entries().find((e) => e.path === '/refused/another');
    expect(line).toMatchObject({
      status: 502,
      error_code: 'UPSTREAM_UNAVAILABLE',
      reason: 'connect_refused',
      route: 'refused',
    });
    expect(proxy.logs.text()).not.toContain('pw1');
  });
});
