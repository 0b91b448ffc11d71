import request from 'supertest';
import { pairs, rawRequest, route, useProxy } from '../helpers/servers';

describe('forwarding: header fidelity', () => {
  const f = useProxy((url) => ({ routes: [route(url)] }));

  // [description, headers as sent by the client] — every pair must reach the upstream as sent.
  const cases: Array<[string, string[]]> = [
    ['Authorization bearer', ['Authorization', 'Bearer abc.def.ghi']],
    ['lower-case authorization', ['authorization', 'Basic dXNlcjpwYXNz']],
    ['X-User-ID', ['X-User-ID', 'alice']],
    ['X-Request-ID kept', ['X-Request-ID', 'req-123.abc:XYZ_9']],
    ['X-Tenant-ID mixed case', ['x-TENANT-id', 'tenant-a']],
    ['traceparent', ['traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01']],
    ['tracestate', ['tracestate', 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE']],
    ['baggage', ['baggage', 'userId=alice,serverNode=DF%2028']],
    ['X-Amzn-Trace-Id', ['X-Amzn-Trace-Id', 'Root=1-67891233-abcdef012345678912345678']],
    ['MLflow client version', ['X-MLflow-Client-Version', '2.17.0']],
    ['MLflow workspace', ['X-MLFLOW-WORKSPACE', 'team-a']],
    ['custom header', ['X-Custom-Thing', 'a  b\tc']],
    ['repeated custom header', ['X-Multi', 'one', 'X-Multi', 'two', 'x-multi', 'three']],
    ['repeated Accept', ['Accept', 'text/html', 'Accept', 'application/json']],
    ['cookie pair', ['Cookie', 'a=1', 'Cookie', 'b=2']],
    ['empty value', ['X-Empty', '']],
    ['comma-bearing value', ['X-List', 'a, b,,c']],
  ];

  it.each(cases)('%s arrives byte-for-byte', async (_name, sent) => {
    const res = await rawRequest(f.proxy.url, {
      path: '/x',
      headers: ['Host', 'svc.example', ...sent],
    });
    expect(res.status).toBe(200);
    const seen = f.upstream.seen[f.upstream.seen.length - 1]!;
    const got = pairs(seen.rawHeaders);
    const want = pairs(sent);
    // Same names, values, case and relative order, with nothing merged.
    const lowerWanted = new Set(want.map(([n]) => n.toLowerCase()));
    expect(got.filter(([n]) => lowerWanted.has(n.toLowerCase()))).toEqual(want);
  });

  it('keeps the client Host by default and sets X-Forwarded-* for an untrusted peer', async () => {
    await rawRequest(f.proxy.url, {
      path: '/x',
      headers: [
        'Host',
        'svc.example',
        'X-Forwarded-For',
        '6.6.6.6',
        'X-Forwarded-Proto',
        'https',
        'X-Forwarded-Host',
        'evil',
      ],
    });
    const got = pairs(f.upstream.seen[f.upstream.seen.length - 1]!.rawHeaders);
    // The one header whose case is not kept: undici writes `host:` first (RFC 9112 §3.2).
    expect(got[0]).toEqual(['host', 'svc.example']);
    expect(got.filter(([n]) => n.toLowerCase() === 'x-forwarded-for')).toEqual([
      ['X-Forwarded-For', '127.0.0.1'],
    ]);
    expect(got.filter(([n]) => n.toLowerCase() === 'x-forwarded-proto')).toEqual([
      ['X-Forwarded-Proto', 'http'],
    ]);
    expect(got.filter(([n]) => n.toLowerCase() === 'x-forwarded-host')).toEqual([
      ['X-Forwarded-Host', 'svc.example'],
    ]);
  });

  it('forwards method, path and query; query untouched', async () => {
    const res = await request(f.proxy.url).delete('/a/b?x=%2F&y=1&y=2').set('X-Custom', '1');
    expect(res.status).toBe(200);
    const seen = f.upstream.seen[f.upstream.seen.length - 1]!;
    expect(seen.method).toBe('DELETE');
    expect(seen.url).toBe('/a/b?x=%2F&y=1&y=2');
  });

  it('passes response headers through and echoes X-Request-ID', async () => {
    const res = await request(f.proxy.url).get('/y').set('X-Request-ID', 'abc-123');
    expect(res.headers['x-request-id']).toBe('abc-123');
    expect(res.headers['content-type']).toBe('application/json');
  });
});

describe('forwarding: X-Forwarded-* from a trusted proxy', () => {
  const f = useProxy((url) => ({
    server: { trustedProxies: ['127.0.0.0/8'] },
    routes: [route(url)],
  }));

  it('extends the chain and keeps proto/host/port set by the trusted proxy', async () => {
    await rawRequest(f.proxy.url, {
      path: '/x',
      headers: [
        'Host',
        'internal',
        'X-Forwarded-For',
        '203.0.113.7',
        'X-Forwarded-Proto',
        'https',
        'X-Forwarded-Host',
        'api.example.com',
        'X-Forwarded-Port',
        '443',
      ],
    });
    const got = pairs(f.upstream.seen[f.upstream.seen.length - 1]!.rawHeaders);
    expect(got).toContainEqual(['X-Forwarded-For', '203.0.113.7, 127.0.0.1']);
    expect(got).toContainEqual(['X-Forwarded-Proto', 'https']);
    expect(got).toContainEqual(['X-Forwarded-Host', 'api.example.com']);
    expect(got).toContainEqual(['X-Forwarded-Port', '443']);
  });
});
