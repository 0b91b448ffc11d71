/**
 * Several upstreams per route, and one name with several addresses (answered by a real dnsmasq):
 * round-robin, an address refusing connections left out (the request goes to the next one, its
 * body too), 502 only when every address refuses, and names resolved again.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { startDnsmasq, type Dnsmasq } from '../../helpers/dnsmasq';
import { startProxy, type TestProxy } from '../../helpers/servers';
import { waitFor } from '../../helpers/wait';

interface Named {
  name: string;
  server: Server;
  port: number;
  url: string;
  close(): Promise<void>;
}

/** An upstream that answers who it is, the Host it got and a hash of the body it read. */
async function named(name: string, host = '127.0.0.1', port = 0): Promise<Named> {
  const server = createServer((req, res) => {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      hash.update(c);
      bytes += c.length;
    });
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ by: name, host: req.headers.host, bytes, hash: hash.digest('hex') }),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    name,
    server,
    port: bound,
    url: `http://${host}:${bound}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function by(proxy: TestProxy, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await request(proxy.url).get('/x');
    expect(res.status).toBe(200);
    out.push((res.body as { by: string }).by);
  }
  return out;
}

const counts = (list: string[]): Record<string, number> =>
  list.reduce<Record<string, number>>((acc, k) => ({ ...acc, [k]: (acc[k] ?? 0) + 1 }), {});

describe('several upstreams on one route', () => {
  let a: Named;
  let b: Named;
  let proxy: TestProxy;

  beforeEach(async () => {
    a = await named('a');
    b = await named('b');
    proxy = await startProxy({
      routes: [{ name: 'api', prefix: '/', upstreams: [a.url, b.url], auth: 'none' }],
    });
  });
  afterEach(async () => {
    await proxy.close();
    await a.close();
    await b.close();
  });

  test('requests go round-robin', async () => {
    expect(await by(proxy, 6)).toEqual(['a', 'b', 'a', 'b', 'a', 'b']);
  });

  test('an address refusing connections is left out: every request still answered, with one warn line and a count', async () => {
    await b.close();
    expect(counts(await by(proxy, 8))).toEqual({ a: 8 });
    const leftOut = proxy.logs.entries().filter((l) => l.message === 'upstream address left out');
    expect(leftOut).toHaveLength(1);
    expect(leftOut[0]).toMatchObject({ level: 'warn', route: 'api', reason: 'connect_refused' });
    const metrics = await request(proxy.url.replace(/:\d+$/, `:${proxy.running.metricsPort}`)).get(
      '/metrics',
    );
    expect(metrics.text).toMatch(/authgate_upstream_addresses_left_out_total\{route="api"\} 1\b/);
  });

  test('a streamed body whose address refused goes to the next one, whole', async () => {
    await b.close();
    // Round-robin: the first request goes to a, the second to b (refused).
    await request(proxy.url).get('/x').expect(200);
    const body = Buffer.alloc(300_000, 7);
    const res = await request(proxy.url)
      .post('/upload')
      .set('content-type', 'application/octet-stream')
      .send(body);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      by: 'a',
      bytes: body.length,
      hash: createHash('sha256').update(body).digest('hex'),
    });
  });

  test('502 UPSTREAM_UNAVAILABLE only when every address refuses', async () => {
    await a.close();
    await b.close();
    const res = await request(proxy.url).get('/x');
    expect(res.status).toBe(502);
    expect(res.body).toMatchObject({ error_code: 'UPSTREAM_UNAVAILABLE', status: 502 });
    expect(res.body.message).toMatch(/refused/);
  });
});

describe('upstreams: check-config rules', () => {
  test.each([
    [{ upstreams: ['http://a:1', 'https://b:1'] }, /one scheme and one path/],
    [{ upstreams: ['http://a:1/x', 'http://b:1/y'] }, /one scheme and one path/],
    [{ upstream: 'http://a:1', upstreams: ['http://b:1'] }, /both set/],
    [{}, /upstream.*is missing/],
  ])('%j is refused', async (upstream, message) => {
    await expect(
      startProxy({ routes: [{ name: 'api', prefix: '/', auth: 'none', ...upstream }] }),
    ).rejects.toThrow(message);
  });
});

describe('one name, several addresses (dnsmasq)', () => {
  let dns: Dnsmasq;
  const servers: Named[] = [];
  let port = 0;
  let proxy: TestProxy;
  const NAME = 'svc.authgate.test';

  beforeAll(async () => {
    // The same port on three loopback addresses, as one service's replicas would be.
    for (let attempt = 0; servers.length < 3 && attempt < 20; attempt++) {
      for (const s of servers.splice(0)) await s.close();
      try {
        const first = await named('127.0.0.1');
        servers.push(first);
        port = first.port;
        servers.push(await named('127.0.0.2', '127.0.0.2', port));
        servers.push(await named('127.0.0.3', '127.0.0.3', port));
      } catch {
        // The port was taken on another address: try another one.
      }
    }
    dns = await startDnsmasq({ [NAME]: ['127.0.0.1', '127.0.0.2', '127.0.0.3'] });
    proxy = await startProxy({
      server: { dns: { servers: [dns.server], refreshSec: 1 } },
      routes: [
        {
          name: 'svc',
          prefix: '/',
          upstream: `http://${NAME}:${port}`,
          auth: 'none',
          preserveHost: false,
        },
      ],
    });
  });
  afterAll(async () => {
    await proxy?.close();
    for (const s of servers) await s.close();
    await dns?.stop();
  });

  test('every address gets requests, with the name as Host', async () => {
    const seen = new Set<string>();
    await waitFor('all three addresses served', async () => {
      const res = await request(proxy.url).get('/x');
      expect(res.status).toBe(200);
      expect(res.body.host).toBe(`${NAME}:${port}`);
      seen.add(res.body.by as string);
      return seen.size === 3;
    });
  });

  test('a replica that stops is left out; a new DNS answer is followed', async () => {
    await (servers[1] as Named).close();
    expect(new Set(await by(proxy, 9))).toEqual(new Set(['127.0.0.1', '127.0.0.3']));
    await dns.answer({ [NAME]: ['127.0.0.3'] });
    await waitFor('only 127.0.0.3 served', async () => {
      const list = await by(proxy, 4);
      return list.every((b) => b === '127.0.0.3');
    });
  });
});
