/**
 * the forwarder on undici keeps every behaviour the node:http one had — the ones
 * no other test pinned down are here, each against a real upstream on loopback: Expect:
 * 100-continue answered only after authentication, one retry of an idempotent request whose
 * kept-alive connection was reset, none for the rest, the response timeout as an idle timeout
 * of a streamed upload, 1xx informational responses, a response cut short.
 */
import { createServer, type Server } from 'node:http';
import {
  connect,
  createServer as createNetServer,
  type AddressInfo,
  type Server as NetServer,
  type Socket,
} from 'node:net';
import { sign } from '../../helpers/jwks';
import { rawExchange, statusesIn } from '../../helpers/raw-socket';
import { route, startProxy, type TestProxy } from '../../helpers/servers';

const SECRET = 'undici-forwarder-test-secret-0123456789';
const token = (): string => sign(SECRET, { iss: 'fw', sub: 'alice' });
const port = (s: { address(): unknown }): number => (s.address() as AddressInfo).port;
const listen = (s: Server | NetServer): Promise<void> =>
  new Promise((r) => s.listen(0, '127.0.0.1', () => r()));

interface Seen {
  url: string;
  headers: string[];
  body: Buffer;
}

/**
 * A client that sends the request head, waits for the 100 (or a final answer), then the body;
 * resolves with every byte the proxy sent until it closed or went quiet.
 */
function expectContinue(proxyPort: number, head: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(proxyPort, '127.0.0.1');
    let text = '';
    let timer: NodeJS.Timeout | undefined;
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(text);
    };
    socket.on('connect', () => socket.write(head));
    socket.on('data', (c: Buffer) => {
      const before = text;
      text += c.toString('latin1');
      if (!before.includes('100 Continue') && text.includes('HTTP/1.1 100 Continue\r\n\r\n'))
        socket.write(body);
      clearTimeout(timer);
      timer = setTimeout(done, 300);
    });
    socket.on('close', done);
    socket.on('error', reject);
  });
}

describe('the undici forwarder', () => {
  let upstream: Server;
  const seen: Seen[] = [];
  // An upstream that answers every first request of a connection and resets the connection on
  // its second: what a kept-alive connection looks like when the upstream closed it just as
  // authgate reused it.
  let resetting: NetServer;
  let resettingForPost: NetServer;
  let resettingConnections = 0;
  let resettingRequests = 0;
  const resettingServer = (): NetServer =>
    createNetServer((sock) => {
      sockets.push(sock);
      resettingConnections += 1;
      let requests = 0;
      let buffered = '';
      sock.on('data', (c: Buffer) => {
        buffered += c.toString('latin1');
        while (buffered.includes('\r\n\r\n')) {
          buffered = buffered.slice(buffered.indexOf('\r\n\r\n') + 4);
          resettingRequests += 1;
          requests += 1;
          if (requests === 1) {
            sock.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=60\r\n\r\nok');
          } else {
            sock.resetAndDestroy();
            return;
          }
        }
      });
      sock.on('error', () => undefined);
    });
  // Raw upstreams for informational and cut-short responses.
  let earlyHints: NetServer;
  let cutShort: NetServer;
  const sockets: Socket[] = [];
  let proxy: TestProxy;
  /** A GET on its own connection: everything the proxy sent back. */
  const getRaw = (path: string): Promise<string> =>
    rawExchange(proxy.port, `GET ${path} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`);

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ url: req.url ?? '', headers: req.rawHeaders, body: Buffer.concat(chunks) });
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end(`got ${Buffer.concat(chunks).length}`);
      });
    });
    resetting = resettingServer();
    resettingForPost = resettingServer();
    earlyHints = createNetServer((sock) => {
      sockets.push(sock);
      sock.once('data', () =>
        sock.write(
          'HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n' +
            'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Final: yes\r\n\r\nfinal',
        ),
      );
      sock.on('error', () => undefined);
    });
    cutShort = createNetServer((sock) => {
      sockets.push(sock);
      sock.once('data', () => sock.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly-part'));
      sock.on('error', () => undefined);
    });
    await Promise.all([upstream, resetting, resettingForPost, earlyHints, cutShort].map(listen));
    proxy = await startProxy({
      auth: { jwt: { issuers: [{ issuer: 'fw', algorithms: ['HS256'], secret: SECRET }] } },
      routes: [
        route(`http://127.0.0.1:${port(upstream)}`, {
          name: 'secure',
          prefix: '/secure',
          auth: 'required',
        }),
        route(`http://127.0.0.1:${port(upstream)}`, {
          name: 'upload',
          prefix: '/upload',
          timeouts: { responseMs: 400 },
        }),
        route(`http://127.0.0.1:${port(resetting)}`, { name: 'resetting', prefix: '/reset' }),
        route(`http://127.0.0.1:${port(resettingForPost)}`, { name: 'post', prefix: '/post' }),
        route(`http://127.0.0.1:${port(earlyHints)}`, { name: 'hints', prefix: '/hints' }),
        route(`http://127.0.0.1:${port(cutShort)}`, { name: 'cut', prefix: '/cut' }),
      ],
    });
  });
  afterAll(async () => {
    await proxy.close();
    upstream.closeAllConnections();
    for (const s of sockets) s.destroy();
    await Promise.all(
      [upstream, resetting, resettingForPost, earlyHints, cutShort].map(
        (s) => new Promise((r) => (s as NetServer).close(r)),
      ),
    );
  });

  describe('Expect: 100-continue', () => {
    it('without a credential: 401 and no 100 — the body is never asked for', async () => {
      const before = seen.length;
      const raw = await expectContinue(
        proxy.port,
        'POST /secure/up HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n',
        'hello',
      );
      expect(statusesIn(raw)).toEqual([401]);
      expect(seen.length).toBe(before);
    });

    it('with a valid credential: 100 from authgate, then the body goes up; Expect ends here', async () => {
      const raw = await expectContinue(
        proxy.port,
        `POST /secure/up HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer ${token()}\r\n` +
          'Content-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n',
        'hello',
      );
      expect(statusesIn(raw)).toEqual([100, 200]);
      expect(raw).toContain('got 5');
      const last = seen[seen.length - 1]!;
      expect(last.body.toString()).toBe('hello');
      expect(last.headers.map((h) => h.toLowerCase())).not.toContain('expect');
    });
  });

  describe('a kept-alive connection reset as it is reused', () => {
    it('an idempotent request without a body is sent once more, on a new connection', async () => {
      const [c0, r0] = [resettingConnections, resettingRequests];
      const first = await getRaw('/reset/a');
      expect(statusesIn(first)).toEqual([200]);
      // Reuses the kept-alive connection, which the upstream resets: retried on a new one.
      const second = await getRaw('/reset/b');
      expect(statusesIn(second)).toEqual([200]);
      expect(resettingConnections - c0).toBe(2);
      expect(resettingRequests - r0).toBe(3);
    });

    it('a POST is not sent again: 502 UPSTREAM_UNAVAILABLE (reset)', async () => {
      const first = await getRaw('/post/a');
      expect(statusesIn(first)).toEqual([200]);
      const r0 = resettingRequests;
      // Reuses that kept-alive connection, which the upstream resets.
      const raw = await rawExchange(
        proxy.port,
        'POST /post/c HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
      );
      expect(statusesIn(raw)).toEqual([502]);
      expect(raw).toContain('"error_code":"UPSTREAM_UNAVAILABLE"');
      expect(resettingRequests - r0).toBe(1);
    });
  });

  describe('the response timeout of a streamed upload is an idle timeout', () => {
    it('a client that stops sending mid-body: 504 UPSTREAM_TIMEOUT', async () => {
      const raw = await rawExchange(
        proxy.port,
        'POST /upload/stall HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\nConnection: close\r\n\r\n0123456789',
        1500,
      );
      expect(statusesIn(raw)).toEqual([504]);
      expect(raw).toContain('"error_code":"UPSTREAM_TIMEOUT"');
    });

    it('a slow but steady upload, longer than responseMs in all, is not cut', async () => {
      const socket = connect(proxy.port, '127.0.0.1');
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
      const closed = new Promise((r) => socket.on('close', r));
      await new Promise((r) => socket.on('connect', r));
      socket.write(
        'POST /upload/steady HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
      );
      // 8 chunks 150 ms apart: 1.2 s in all, each gap under the 400 ms timeout.
      for (let i = 0; i < 8; i++) {
        socket.write('a\r\n0123456789\r\n');
        await new Promise((r) => setTimeout(r, 150));
      }
      socket.write('0\r\n\r\n');
      await closed;
      expect(statusesIn(text)).toEqual([200]);
      expect(text).toContain('got 80');
    });
  });

  it('1xx informational responses are not relayed; the final response is', async () => {
    const raw = await getRaw('/hints/x');
    expect(statusesIn(raw)).toEqual([200]);
    expect(raw).toContain('X-Final: yes');
    expect(raw.endsWith('final')).toBe(true);
  });

  it('a response cut short of its Content-Length is cut for the client too', async () => {
    const raw = await getRaw('/cut/x');
    expect(statusesIn(raw)).toEqual([200]);
    expect(raw).toContain('Content-Length: 100');
    const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
    expect(body.length).toBeLessThan(100);
  });
});
