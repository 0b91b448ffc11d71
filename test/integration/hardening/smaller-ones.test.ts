/**
 * The smaller ones: CONNECT closed the connection with no answer; oversized
 * headers got 400 instead of 431; a WebSocket upgrade to an unreachable upstream got 500
 * INTERNAL_ERROR through a second error path that skipped the log and metric of the first.
 */
import { freePort, route, startProxy, type TestProxy } from '../../helpers/servers';
import { rawExchange, statusesIn } from '../../helpers/raw-socket';

describe('CONNECT, oversized headers, WebSocket to a dead upstream', () => {
  let proxy: TestProxy;
  beforeAll(async () => {
    const dead = await freePort();
    proxy = await startProxy({
      routes: [route(`http://127.0.0.1:${dead}`, { ws: true, timeouts: { connectMs: 500 } })],
    });
  });
  afterAll(() => proxy.close());
  const body = (raw: string) =>
    JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;

  it('CONNECT gets a typed 405', async () => {
    const raw = await rawExchange(
      proxy.port,
      'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
    );
    expect(statusesIn(raw)).toEqual([405]);
    expect(body(raw)).toMatchObject({ error_code: 'METHOD_NOT_ALLOWED', status: 405 });
    expect(raw).toMatch(/\r\nX-Request-ID: [\w-]+\r\n/);
  });

  it('oversized headers get 431', async () => {
    const raw = await rawExchange(
      proxy.port,
      `GET / HTTP/1.1\r\nHost: h\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    expect(statusesIn(raw)).toEqual([431]);
    expect(body(raw)).toMatchObject({ error_code: 'HEADERS_TOO_LARGE', status: 431 });
  });

  it('a WebSocket upgrade to an unreachable upstream: 502 UPSTREAM_UNAVAILABLE, logged and counted', async () => {
    const raw = await rawExchange(
      proxy.port,
      'GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      1500,
    );
    expect(statusesIn(raw)).toEqual([502]);
    expect(body(raw)).toMatchObject({ error_code: 'UPSTREAM_UNAVAILABLE' });
    const line = proxy.logs.entries().find((e) => e.message === 'upgrade');
    expect(line).toMatchObject({ status: 502, error_code: 'UPSTREAM_UNAVAILABLE' });
    const metrics = await proxy.running.metrics.registry.metrics();
    expect(metrics).toMatch(/authgate_upstream_errors_total\{route="api",kind="[a-z_]+"\} 1/);
  });
});
