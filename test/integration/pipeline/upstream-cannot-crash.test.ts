/**
 * Nothing an upstream sends can end authgate: a reason phrase Node cannot write (text outside
 * Latin-1, control characters) costs that one request a typed 502, the upstream's reason text
 * is never sent on, and a fuzzed stream of status lines, headers and framings leaves the real
 * `authgate serve` process up, answering each exchange with the upstream's answer or one 502.
 */
import fc from 'fast-check';
import { get, type IncomingMessage } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { spawnProxy, type ProxyProcess } from '../../helpers/process';

/** An upstream that answers every request with the bytes in `reply`, then closes. */
interface ScriptedUpstream {
  url: string;
  reply: Buffer;
  close(): Promise<void>;
}

async function scriptedUpstream(): Promise<ScriptedUpstream> {
  const sockets = new Set<Socket>();
  const state: { reply: Buffer } = { reply: Buffer.alloc(0) };
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let head = '';
    socket.on('data', (c: Buffer) => {
      head += c.toString('latin1');
      if (head.includes('\r\n\r\n')) socket.end(state.reply);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    get reply() {
      return state.reply;
    },
    set reply(bytes: Buffer) {
      state.reply = bytes;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

interface Answer {
  status: number;
  statusMessage: string;
  body: string;
  cut: boolean;
}

function fetchOnce(url: string): Promise<Answer> {
  return new Promise((resolve) => {
    const req = get(url, { agent: false }, (res: IncomingMessage) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (c: string) => (body += c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          statusMessage: res.statusMessage ?? '',
          body,
          cut: false,
        }),
      );
      res.on('error', () =>
        resolve({
          status: res.statusCode ?? 0,
          statusMessage: res.statusMessage ?? '',
          body,
          cut: true,
        }),
      );
      res.on('aborted', () => undefined);
    });
    req.on('error', () => resolve({ status: 0, statusMessage: '', body: '', cut: true }));
  });
}

const response = (statusLine: Buffer | string, extra = 'Content-Length: 2\r\n\r\nok'): Buffer =>
  Buffer.concat([Buffer.from(statusLine as string, 'utf8'), Buffer.from(`\r\n${extra}`, 'latin1')]);

describe('an upstream cannot crash authgate', () => {
  let upstream: ScriptedUpstream;
  let proxy: ProxyProcess;

  beforeAll(async () => {
    upstream = await scriptedUpstream();
    proxy = await spawnProxy({
      routes: [
        {
          name: 'fragile',
          prefix: '/',
          upstream: upstream.url,
          auth: 'none',
          timeouts: { connectMs: 2000, responseMs: 3000 },
        },
      ],
    });
  });
  afterAll(async () => {
    proxy.child.kill('SIGTERM');
    await proxy.exited;
    await upstream.close();
  });

  async function alive(): Promise<void> {
    expect(proxy.child.exitCode).toBeNull();
    expect((await fetchOnce(`${proxy.url}/healthz`)).status).toBe(200);
  }

  it.each([
    ['a UTF-8 reason phrase', 'HTTP/1.1 200 Succès'],
    ['a reason phrase outside Latin-1', 'HTTP/1.1 200 成功'],
    ['a control character in the reason', 'HTTP/1.1 200 O\u0001K'],
    ['DEL in the reason', 'HTTP/1.1 404 Not\u007fFound'],
  ])('%s: one typed 502, the process stays up, twice in a row', async (_name, statusLine) => {
    upstream.reply = response(statusLine);
    for (let i = 0; i < 2; i++) {
      const answer = await fetchOnce(`${proxy.url}/x`);
      expect(answer.status).toBe(502);
      expect(answer.statusMessage).toBe('Bad Gateway');
      expect(JSON.parse(answer.body)).toMatchObject({
        error_code: 'UPSTREAM_UNAVAILABLE',
        origin: 'proxy',
      });
    }
    await alive();
  });

  it("a plain reason phrase is never the upstream's own text: the standard one is sent", async () => {
    upstream.reply = response('HTTP/1.1 200 Totally Fine Thanks');
    const answer = await fetchOnce(`${proxy.url}/x`);
    expect(answer.status).toBe(200);
    expect(answer.statusMessage).toBe('OK');
    expect(answer.body).toBe('ok');
  });

  it('fuzzed upstream responses: the process never exits; each bad response costs one 502', async () => {
    const reason = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.string({ unit: 'grapheme', maxLength: 6 }),
      fc.constantFrom('OK', 'Succès', '\u0000', '\r', 'a\u0085b', '\u00ff'),
    );
    const statusLine = fc.oneof(
      fc
        .tuple(fc.integer({ min: 100, max: 999 }), reason)
        .map(([code, r]) => `HTTP/1.1 ${code} ${r}`),
      fc.constantFrom(
        'HTTP/1.1 200',
        'HTTP/1.0 200 OK',
        'HTTP/2 200 OK',
        'ICY 200 OK',
        'garbage',
        '',
      ),
    );
    const header = fc.tuple(
      fc.oneof(
        fc.constantFrom('X-A', 'Set-Cookie', 'Location', 'Content-Type'),
        fc.string({ maxLength: 8 }),
      ),
      fc.string({ maxLength: 16 }),
    );
    const framing = fc.constantFrom(
      'Content-Length: 2\r\n\r\nok',
      'Content-Length: 10\r\n\r\nshort',
      'Content-Length: 2\r\nContent-Length: 3\r\n\r\nok',
      'Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
      'Transfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n',
      'Transfer-Encoding: chunked, gzip\r\n\r\nok',
      '\r\nbody until close',
      '',
    );
    await fc.assert(
      fc.asyncProperty(
        statusLine,
        fc.array(header, { maxLength: 4 }),
        framing,
        async (line, headers, frame) => {
          const head = headers.map(([n, v]) => `${n}: ${v}\r\n`).join('');
          upstream.reply = Buffer.concat([
            Buffer.from(`${line}\r\n`, 'utf8'),
            Buffer.from(head, 'utf8'),
            Buffer.from(frame, 'latin1'),
          ]);
          const answer = await fetchOnce(`${proxy.url}/fuzz`);
          expect(proxy.child.exitCode).toBeNull();
          // An answer authgate wrote itself is one typed 502 (or 504); anything else is the
          // upstream's status relayed, or a cut once the upstream's head had been sent on.
          if (answer.status >= 500 && answer.body.startsWith('{"error"')) {
            expect([502, 504]).toContain(answer.status);
            expect(JSON.parse(answer.body)).toHaveProperty('error_code');
          } else if (!answer.cut) {
            expect(answer.status).toBeGreaterThanOrEqual(200);
          }
          expect(answer.statusMessage).not.toMatch(/[^\t\x20-\x7e]/);
        },
      ),
      { numRuns: 80 },
    );
    await alive();
  });
});
