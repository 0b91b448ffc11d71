import { createHash } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { memoryKb, resetPeakRss, spawnProxy, type ProxyProcess } from '../helpers/process';
import { patternStream } from '../helpers/streams';

const SIZE = 200 * 1024 * 1024;
const RSS_GROWTH_LIMIT_KB = 64 * 1024;

/**
 * 200 MB each way through a real authgate process; the upstream and the client hash what they
 * see, and the proxy's peak RSS (VmHWM) is read from /proc before and after.
 */
describe('streaming: 200 MB upload and download through the proxy process', () => {
  let upstream: Server;
  let proxy: ProxyProcess;
  let downloadDigest = '';

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      if (req.method === 'POST') {
        const hash = createHash('sha256');
        let bytes = 0;
        req.on('data', (c: Buffer) => {
          hash.update(c);
          bytes += c.length;
        });
        req.on('end', () => res.end(JSON.stringify({ bytes, sha256: hash.digest('hex') })));
        return;
      }
      const { stream, digest } = patternStream(SIZE);
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': SIZE });
      stream.pipe(res);
      stream.on('end', () => {
        downloadDigest = digest();
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const port = (upstream.address() as AddressInfo).port;
    proxy = await spawnProxy({
      server: { port: 0, host: '127.0.0.1' },
      routes: [
        { name: 'artifacts', prefix: '/', upstream: `http://127.0.0.1:${port}`, auth: 'none' },
      ],
    });
  });

  afterAll(async () => {
    proxy?.child.kill('SIGTERM');
    await proxy?.exited;
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
  });

  function growthKb(before: { rss: number }): number {
    return memoryKb(proxy.pid).hwm - before.rss;
  }

  it('upload: byte-identical, RSS growth under 64 MB', async () => {
    const peakReset = resetPeakRss(proxy.pid);
    const before = memoryKb(proxy.pid);
    const { stream, digest } = patternStream(SIZE);
    const started = performance.now();
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(
        `${proxy.url}/upload`,
        {
          method: 'POST',
          headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': SIZE },
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
        },
      );
      req.on('error', reject);
      void pipeline(stream, req).catch(reject);
    });
    const seconds = (performance.now() - started) / 1000;
    const result = JSON.parse(body) as { bytes: number; sha256: string };
    expect(result.bytes).toBe(SIZE);
    expect(result.sha256).toBe(digest());
    const growth = growthKb(before);
    console.log(
      `upload 200 MB: ${(200 / seconds).toFixed(0)} MB/s, proxy RSS growth ${(growth / 1024).toFixed(1)} MB (peak reset: ${peakReset})`,
    );
    expect(growth).toBeLessThan(RSS_GROWTH_LIMIT_KB);
  });

  it('download: byte-identical, RSS growth under 64 MB', async () => {
    resetPeakRss(proxy.pid);
    const before = memoryKb(proxy.pid);
    const started = performance.now();
    const { bytes, sha256 } = await new Promise<{ bytes: number; sha256: string }>(
      (resolve, reject) => {
        request(`${proxy.url}/download`, (res) => {
          const hash = createHash('sha256');
          let n = 0;
          res.on('data', (c: Buffer) => {
            hash.update(c);
            n += c.length;
          });
          res.on('end', () => resolve({ bytes: n, sha256: hash.digest('hex') }));
          res.on('error', reject);
        })
          .on('error', reject)
          .end();
      },
    );
    const seconds = (performance.now() - started) / 1000;
    expect(bytes).toBe(SIZE);
    expect(sha256).toBe(downloadDigest);
    const growth = growthKb(before);
    console.log(
      `download 200 MB: ${(200 / seconds).toFixed(0)} MB/s, proxy RSS growth ${(growth / 1024).toFixed(1)} MB`,
    );
    expect(growth).toBeLessThan(RSS_GROWTH_LIMIT_KB);
  });
});
