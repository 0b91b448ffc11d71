/**
 * One client cannot hold an upstream's connection pool: a request queued behind busy
 * connections fails with a typed 504 within its deadline instead of waiting forever, one
 * address may stream only so many uploads to one upstream at once (429 past it), and a body sent
 * in 1-byte chunks goes upstream in few writes, not one per byte.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { rawRequest, startProxy, type TestProxy } from '../../helpers/servers';
import { waitFor } from '../../helpers/wait';

interface CountingUpstream {
  url: string;
  server: Server;
  /** Requests whose headers arrived. */
  started: number;
  /** Per finished request: the `data` events its body arrived in, and its hash. */
  bodies: Array<{ events: number; bytes: number; sha: string }>;
}

async function countingUpstream(): Promise<CountingUpstream> {
  const state: CountingUpstream = {
    url: '',
    server: undefined as unknown as Server,
    started: 0,
    bodies: [],
  };
  state.server = createServer((req: IncomingMessage, res) => {
    state.started++;
    let events = 0;
    let bytes = 0;
    const hash = createHash('sha256');
    req.on('data', (c: Buffer) => {
      events++;
      bytes += c.length;
      hash.update(c);
    });
    req.on('end', () => {
      state.bodies.push({ events, bytes, sha: hash.digest('hex') });
      res.writeHead(200, { 'Content-Length': '2' }).end('ok');
    });
  });
  await new Promise<void>((r) => state.server.listen(0, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}`;
  return state;
}

/** Starts a chunked upload that sends one chunk and then holds its connection open. */
function trickle(port: number, path: string): Socket {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  socket.write(
    `POST ${path} HTTP/1.1\r\nHost: api.example\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n`,
  );
  return socket;
}

describe('upstream pool fairness', () => {
  let upstream: CountingUpstream;
  let proxy: TestProxy;
  const held: Socket[] = [];

  beforeAll(async () => {
    upstream = await countingUpstream();
    proxy = await startProxy({
      proxy: { maxSocketsPerUpstream: 2, maxUploadsPerClient: 2 },
      routes: [
        {
          name: 'uploads',
          prefix: '/up',
          upstream: upstream.url,
          auth: 'none',
          timeouts: { connectMs: 2000, responseMs: 30_000 },
        },
        {
          name: 'api',
          prefix: '/api',
          upstream: upstream.url,
          auth: 'none',
          timeouts: { connectMs: 2000, responseMs: 600 },
        },
      ],
    });
  });
  afterAll(async () => {
    for (const s of held) s.destroy();
    await proxy.close();
    upstream.server.closeAllConnections();
    await new Promise((r) => upstream.server.close(r));
  });

  it('trickling uploads that hold every pooled connection: a queued request gets 504 in its deadline', async () => {
    held.push(trickle(proxy.port, '/up/a'), trickle(proxy.port, '/up/b'));
    await waitFor('upstream.started >= 2', () => upstream.started >= 2);
    const res = await rawRequest(proxy.url, { path: '/api/x', headers: ['Host', 'api.example'] });
    expect(res.status).toBe(504);
    expect(JSON.parse(res.body.toString())).toMatchObject({
      error_code: 'UPSTREAM_TIMEOUT',
      origin: 'proxy',
    });
    const line = proxy.logs
      .entries()
      .find((e) => e.type === 'access' && e.path === '/api/x' && e.status === 504);
    expect(line).toMatchObject({ reason: 'queue_timeout' });
  });

  it('a third concurrent upload from the same address is refused with 429', async () => {
    const res = await rawRequest(proxy.url, {
      method: 'POST',
      path: '/up/c',
      headers: ['Host', 'api.example', 'Content-Length', '3'],
      body: 'abc',
    });
    expect(res.status).toBe(429);
    expect(JSON.parse(res.body.toString())).toMatchObject({ error_code: 'RATE_LIMITED' });
    expect(res.headers['retry-after']).toBeDefined();
  });

  it('once the uploads end, the pool serves again', async () => {
    for (const s of held.splice(0)) s.end('0\r\n\r\n');
    await waitFor('upstream.bodies.length >= 2', () => upstream.bodies.length >= 2);
    const res = await rawRequest(proxy.url, { path: '/api/y', headers: ['Host', 'api.example'] });
    expect(res.status).toBe(200);
  });

  it('a body in 1-byte chunks goes upstream in far fewer writes, intact', async () => {
    const parts: string[] = [];
    const bytes: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const ch = String.fromCharCode(97 + (i % 26));
      bytes.push(ch);
      parts.push(`1\r\n${ch}\r\n`);
    }
    const before = upstream.bodies.length;
    const started = upstream.started;
    const socket = connect(proxy.port, '127.0.0.1');
    const answer = new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (c: Buffer) => {
        text += c.toString();
        if (text.includes('\r\n\r\nok')) resolve(text);
      });
    });
    // Headers and the first chunk; the rest once the request is on its way upstream, so the
    // chunks are parsed while the body streams (not gathered before it starts).
    socket.write(
      `POST /up/chunks HTTP/1.1\r\nHost: api.example\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${parts[0]}`,
    );
    await waitFor('upstream.started > started', () => upstream.started > started);
    socket.write(`${parts.slice(1).join('')}0\r\n\r\n`);
    expect(await answer).toMatch(/^HTTP\/1\.1 200 /);
    socket.destroy();
    await waitFor('upstream.bodies.length > before', () => upstream.bodies.length > before);
    const body = upstream.bodies.at(-1)!;
    expect(body.bytes).toBe(2000);
    expect(body.sha).toBe(createHash('sha256').update(bytes.join('')).digest('hex'));
    // One write per read of the client's socket, not one per chunk.
    expect(body.events).toBeLessThan(50);
  });

  it('a response in 1-byte chunks reaches the client in far fewer chunks, intact', async () => {
    const parts: string[] = [];
    let text = '';
    for (let i = 0; i < 2000; i++) {
      const ch = String.fromCharCode(97 + (i % 26));
      text += ch;
      parts.push(`1\r\n${ch}\r\n`);
    }
    // A raw upstream that answers with the whole chunked body in one write.
    const raw = createNetServer((socket) => {
      socket.on('error', () => socket.destroy());
      socket.once('data', () =>
        socket.end(
          `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${parts.join('')}0\r\n\r\n`,
        ),
      );
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    const down = await startProxy({
      routes: [
        {
          name: 'down',
          prefix: '/',
          upstream: `http://127.0.0.1:${(raw.address() as AddressInfo).port}`,
          auth: 'none',
        },
      ],
    });
    try {
      const socket = connect(down.port, '127.0.0.1');
      const received = await new Promise<string>((resolve) => {
        let all = '';
        socket.on('data', (c: Buffer) => (all += c.toString('latin1')));
        socket.on('end', () => resolve(all));
        socket.write('GET /x HTTP/1.1\r\nHost: d.example\r\nConnection: close\r\n\r\n');
      });
      socket.destroy();
      const [head, body] = received.split('\r\n\r\n', 2) as [string, string];
      expect(head).toMatch(/^HTTP\/1\.1 200 /);
      expect(head.toLowerCase()).toContain('transfer-encoding: chunked');
      // Decode the chunked body: the bytes are intact, in far fewer chunks than were sent.
      let rest = received.slice(head.length + 4);
      let decoded = '';
      let chunks = 0;
      for (;;) {
        const nl = rest.indexOf('\r\n');
        const size = parseInt(rest.slice(0, nl), 16);
        if (size === 0) break;
        decoded += rest.slice(nl + 2, nl + 2 + size);
        rest = rest.slice(nl + 2 + size + 2);
        chunks++;
      }
      expect(body.length).toBeGreaterThan(0);
      expect(decoded).toBe(text);
      expect(chunks).toBeLessThan(50);
    } finally {
      await down.close();
      await new Promise((r) => raw.close(r));
    }
  });
});
