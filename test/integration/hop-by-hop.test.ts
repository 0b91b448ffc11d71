import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { pairs, rawRequest, route, useProxy, startProxy, type TestProxy } from '../helpers/servers';

describe('hop-by-hop headers: request direction', () => {
  const f = useProxy((url) => ({ routes: [route(url)] }));

  const lastNames = (): string[] =>
    pairs(f.upstream.seen[f.upstream.seen.length - 1]!.rawHeaders).map(([n]) => n.toLowerCase());
  const lastPairs = (): Array<[string, string]> =>
    pairs(f.upstream.seen[f.upstream.seen.length - 1]!.rawHeaders);

  const removed: Array<[string, string[]]> = [
    ['Keep-Alive', ['Keep-Alive', 'timeout=5']],
    ['Proxy-Connection', ['Proxy-Connection', 'keep-alive']],
    ['Proxy-Authorization', ['Proxy-Authorization', 'Basic Zm9vOmJhcg==']],
    ['TE', ['TE', 'trailers']],
    ['Trailer (chunked body)', ['Transfer-Encoding', 'chunked', 'Trailer', 'X-Checksum']],
    ['Upgrade (no upgrade route)', ['Upgrade', 'h2c']],
  ];
  it.each(removed)('removes %s', async (_n, sent) => {
    const chunked = sent.includes('chunked');
    const res = await rawRequest(f.proxy.url, {
      method: chunked ? 'POST' : 'GET',
      path: '/',
      headers: ['Host', 'h', ...sent, 'X-Keep', '1'],
      body: chunked ? 'some body' : undefined,
    });
    expect(res.status).toBe(200);
    const removedName = sent[sent.length - 2]!.toLowerCase();
    expect(lastNames()).not.toContain(removedName);
    if (chunked) expect(f.upstream.seen[f.upstream.seen.length - 1]!.bodyBytes).toBe(9);
    expect(lastNames()).toContain('x-keep');
  });

  it('re-frames a chunked body itself: exactly one framing header upstream, body intact', async () => {
    await rawRequest(f.proxy.url, {
      method: 'POST',
      path: '/',
      headers: ['Host', 'h', 'Transfer-Encoding', 'chunked'],
      body: 'x'.repeat(1000),
    });
    // Chunked again, or — when the whole body was in before the upstream request was written —
    // a Content-Length that undici counted; never both, never none.
    const got = lastPairs().filter(([n]) => /^(transfer-encoding|content-length)$/i.test(n));
    expect(got).toHaveLength(1);
    expect([
      ['transfer-encoding', 'chunked'],
      ['content-length', '1000'],
    ]).toContainEqual([got[0]![0].toLowerCase(), got[0]![1]]);
    expect(f.upstream.seen[f.upstream.seen.length - 1]!.bodyBytes).toBe(1000);
  });

  it('removes headers named in Connection', async () => {
    await rawRequest(f.proxy.url, {
      path: '/',
      headers: [
        'Host',
        'h',
        'Connection',
        'keep-alive, X-Secret-Hop',
        'X-Secret-Hop',
        'drop me',
        'connection',
        'x-other-hop',
        'X-Other-Hop',
        '1',
        'X-Stay',
        'yes',
      ],
    });
    expect(lastNames()).not.toContain('x-secret-hop');
    expect(lastNames()).not.toContain('x-other-hop');
    expect(lastPairs()).toContainEqual(['X-Stay', 'yes']);
  });

  it('never lets Connection remove Authorization, X-User-ID, X-Request-ID, X-Tenant-ID or Host', async () => {
    const protectedHeaders = [
      'Authorization',
      'Bearer t',
      'X-User-ID',
      'u1',
      'X-Request-ID',
      'rid-1',
      'X-Tenant-ID',
      't1',
    ];
    await rawRequest(f.proxy.url, {
      path: '/',
      headers: [
        'Host',
        'h',
        'Connection',
        'Authorization, X-User-ID, X-Request-ID, X-Tenant-ID, Host, Content-Length',
        ...protectedHeaders,
      ],
    });
    const got = lastPairs();
    for (const p of pairs(protectedHeaders)) expect(got).toContainEqual(p);
    // Host goes first, lower-cased by undici (RFC 9112 §3.2); names are case-insensitive.
    expect(got.map(([n, v]) => [n.toLowerCase(), v])).toContainEqual(['host', 'h']);
  });

  it('cannot strip the X-Forwarded-For that authgate adds', async () => {
    await rawRequest(f.proxy.url, {
      path: '/',
      headers: ['Host', 'h', 'Connection', 'X-Forwarded-For'],
    });
    expect(lastPairs()).toContainEqual(['X-Forwarded-For', '127.0.0.1']);
  });
});

describe('hop-by-hop headers: response direction', () => {
  let upstreamServer: Server;
  let proxy: TestProxy;
  beforeAll(async () => {
    upstreamServer = createServer((_req, res) => {
      res.writeHead(200, [
        'Content-Type',
        'text/plain',
        'Connection',
        'keep-alive, X-Hop-Resp',
        'X-Hop-Resp',
        'secret',
        'Keep-Alive',
        'timeout=5',
        'Proxy-Connection',
        'keep-alive',
        'Set-Cookie',
        'a=1; HttpOnly',
        'Set-Cookie',
        'b=2; Secure',
        'X-Request-ID',
        'upstream-made-this',
        'X-Resp-Custom',
        'Kept',
      ]);
      res.end('hello');
    });
    await new Promise<void>((r) => upstreamServer.listen(0, '127.0.0.1', r));
    const port = (upstreamServer.address() as AddressInfo).port;
    proxy = await startProxy({ routes: [route(`http://127.0.0.1:${port}`)] });
  });
  afterAll(async () => {
    await proxy.close();
    upstreamServer.closeAllConnections();
    await new Promise((r) => upstreamServer.close(r));
  });

  it('removes hop-by-hop and Connection-listed response headers, keeps the rest byte-for-byte', async () => {
    const res = await rawRequest(proxy.url, {
      path: '/',
      headers: ['Host', 'h', 'X-Request-ID', 'mine'],
    });
    const got = pairs(res.rawHeaders);
    const names = got.map(([n]) => n.toLowerCase());
    expect(names).not.toContain('x-hop-resp');
    expect(names).not.toContain('keep-alive');
    expect(names).not.toContain('proxy-connection');
    expect(got.filter(([n]) => n === 'Set-Cookie')).toEqual([
      ['Set-Cookie', 'a=1; HttpOnly'],
      ['Set-Cookie', 'b=2; Secure'],
    ]);
    expect(got).toContainEqual(['X-Resp-Custom', 'Kept']);
    expect(got.filter(([n]) => n.toLowerCase() === 'x-request-id')).toEqual([
      ['X-Request-ID', 'mine'],
    ]);
    expect(res.body.toString()).toBe('hello');
  });

  it('answers HEAD with headers only', async () => {
    const res = await request(proxy.url).head('/');
    expect(res.status).toBe(200);
    expect(res.headers['x-resp-custom']).toBe('Kept');
  });
});
