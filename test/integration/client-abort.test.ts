import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { route, startProxy, type TestProxy } from '../helpers/servers';
import { waitFor } from '../helpers/wait';

/** A client that goes away must not leave the upstream working for nobody. */
describe('client abort reaches the upstream', () => {
  let upstream: Server;
  let proxy: TestProxy;
  let onUpstreamRequest: (
    req: IncomingMessage,
    res: import('node:http').ServerResponse,
  ) => void = () => undefined;

  beforeAll(async () => {
    upstream = createServer((req, res) => onUpstreamRequest(req, res));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const port = (upstream.address() as AddressInfo).port;
    proxy = await startProxy({ routes: [route(`http://127.0.0.1:${port}`)] });
  });
  afterAll(async () => {
    await proxy.close();
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
  });

  it('during an upload: the upstream request is aborted', async () => {
    const upstreamSaw = new Promise<{ bytes: number; completed: boolean }>((resolve) => {
      onUpstreamRequest = (req) => {
        let bytes = 0;
        req.on('data', (c: Buffer) => (bytes += c.length));
        req.on('close', () => resolve({ bytes, completed: req.complete }));
      };
    });
    const client = request(`${proxy.url}/upload`, {
      method: 'POST',
      headers: { 'Content-Length': 10_000_000 },
    });
    client.on('error', () => undefined);
    client.write(Buffer.alloc(64 * 1024, 1));
    setTimeout(() => client.destroy(), 200);
    const seen = await upstreamSaw;
    expect(seen.completed).toBe(false);
    expect(seen.bytes).toBeLessThan(10_000_000);
  });

  it('during a download: the upstream response is torn down', async () => {
    const upstreamClosed = new Promise<boolean>((resolve) => {
      onUpstreamRequest = (_req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
        const timer = setInterval(() => res.write(Buffer.alloc(16 * 1024)), 5);
        res.on('close', () => {
          clearInterval(timer);
          resolve(res.writableFinished);
        });
      };
    });
    const client = request(`${proxy.url}/download`, (res) => {
      res.once('data', () => client.destroy());
    });
    client.on('error', () => undefined);
    client.end();
    expect(await upstreamClosed).toBe(false);
    await waitFor('the access line', () =>
      proxy.logs.entries().some((e) => e.path === '/download'),
    );
    const line = proxy.logs.entries().find((e) => e.path === '/download');
    expect(line?.aborted).toBe(true);
  });

  it('while the upstream is still thinking: the upstream sees the close', async () => {
    const upstreamClosed = new Promise<void>((resolve) => {
      onUpstreamRequest = (_req, res) => res.on('close', () => resolve());
    });
    const client = request(`${proxy.url}/think`);
    client.on('error', () => undefined);
    client.end();
    setTimeout(() => client.destroy(), 100);
    await upstreamClosed;
    await waitFor('the access line', () => proxy.logs.entries().some((e) => e.path === '/think'));
    const line = proxy.logs.entries().find((e) => e.path === '/think');
    expect(line).toMatchObject({ status: 499, aborted: true });
  });
});
