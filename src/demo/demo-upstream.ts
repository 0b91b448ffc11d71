/**
 * The embedded demo upstream for `npm start`: echoes what reached it, so a newcomer sees the
 * headers authgate forwarded (X-User-ID, X-Request-ID, X-Forwarded-*).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface DemoUpstream {
  server: Server;
  url: string;
  close(): Promise<void>;
}

export async function startDemoUpstream(port = 0): Promise<DemoUpstream> {
  const server = createServer((req, res) => {
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      bytes += c.length;
    });
    req.on('end', () => {
      const body = JSON.stringify(
        {
          service: 'authgate demo upstream',
          method: req.method,
          url: req.url,
          bodyBytes: bytes,
          headers: req.headers,
        },
        null,
        2,
      );
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(body),
      });
      res.end(body + '\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${bound}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
