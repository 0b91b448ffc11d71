import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import request from 'supertest';
import { route, startProxy, type TestProxy } from '../../helpers/servers';

const LEAKED_JWT =
  'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXRoYXQtaXMtbG9uZy1lbm91Z2g';

type Variant = { status: number; headers: Record<string, string | number>; body: Buffer | string };

const variants: Record<string, Variant> = {
  'json-401': {
    status: 401,
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ error_code: 'UNAUTHENTICATED', message: 'Token rejected by MLflow' }),
  },
  'json-403': {
    status: 403,
    headers: { 'Content-Type': 'application/json; charset=utf-8' },
    body: JSON.stringify({ error_code: 'PERMISSION_DENIED', message: 'No access to experiment 7' }),
  },
  'html-403': {
    status: 403,
    headers: { 'Content-Type': 'text/html' },
    body: '<html><body><h1>403 Forbidden</h1><p>nginx at 10.1.2.3</p></body></html>',
  },
  'empty-401': { status: 401, headers: { 'Content-Length': 0 }, body: '' },
  'gzip-empty-401': {
    status: 401,
    headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' },
    body: gzipSync(Buffer.alloc(0)),
  },
  'gzip-json-403': {
    status: 403,
    headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' },
    body: gzipSync(JSON.stringify({ error_code: 'PERMISSION_DENIED', message: 'zipped' })),
  },
  'json-leaking-token': {
    status: 401,
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ error_code: 'BAD_TOKEN', message: `token ${LEAKED_JWT} is invalid` }),
  },
  'json-array': { status: 403, headers: { 'Content-Type': 'application/json' }, body: '[1,2]' },
  'huge-json': {
    status: 403,
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ error_code: 'X', message: 'y'.repeat(200_000) }),
  },
};

describe('upstream 401/403 become typed errors with origin "upstream"', () => {
  let upstream: Server;
  let proxy: TestProxy;
  beforeAll(async () => {
    upstream = createServer((req, res) => {
      const v = variants[(req.url ?? '/').slice(1)]!;
      res.writeHead(v.status, { ...v.headers, 'WWW-Authenticate': 'Basic realm="upstream"' });
      res.end(req.method === 'HEAD' ? undefined : v.body);
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const port = (upstream.address() as AddressInfo).port;
    proxy = await startProxy({ routes: [route(`http://127.0.0.1:${port}`)] });
  });
  afterAll(async () => {
    await proxy.close();
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
  });

  const table: Array<[string, number, string, Record<string, string> | undefined]> = [
    [
      'json-401',
      401,
      'UPSTREAM_UNAUTHENTICATED',
      { error_code: 'UNAUTHENTICATED', message: 'Token rejected by MLflow' },
    ],
    [
      'json-403',
      403,
      'UPSTREAM_FORBIDDEN',
      { error_code: 'PERMISSION_DENIED', message: 'No access to experiment 7' },
    ],
    ['html-403', 403, 'UPSTREAM_FORBIDDEN', undefined],
    ['empty-401', 401, 'UPSTREAM_UNAUTHENTICATED', undefined],
    ['gzip-empty-401', 401, 'UPSTREAM_UNAUTHENTICATED', undefined],
    [
      'gzip-json-403',
      403,
      'UPSTREAM_FORBIDDEN',
      { error_code: 'PERMISSION_DENIED', message: 'zipped' },
    ],
    ['json-array', 403, 'UPSTREAM_FORBIDDEN', undefined],
    ['huge-json', 403, 'UPSTREAM_FORBIDDEN', undefined],
  ];

  it.each(table)('GET %s → %i %s', async (variant, status, code, upstreamFields) => {
    const res = await request(proxy.url).get(`/${variant}`).set('X-Request-ID', `rid-${variant}`);
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['content-encoding']).toBeUndefined();
    const expected: Record<string, unknown> = {
      error: status === 401 ? 'Authentication failed' : 'Insufficient permissions',
      error_code: code,
      message: expect.any(String),
      status,
      origin: 'upstream',
      request_id: `rid-${variant}`,
    };
    if (upstreamFields) expected.upstream = upstreamFields;
    expect(res.body).toEqual(expected);
    expect(res.text).not.toContain('<html');
    expect(res.text).not.toContain('10.1.2.3');
    if (status === 401) expect(res.headers['www-authenticate']).toBe('Bearer realm="authgate"');
  });

  it.each(table)('HEAD %s → %i, no body', async (variant, status) => {
    const res = await request(proxy.url).head(`/${variant}`);
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.text ?? '').toBe('');
  });

  it('never passes on a token the upstream echoed in its message', async () => {
    const res = await request(proxy.url).get('/json-leaking-token');
    expect(res.status).toBe(401);
    expect(res.body.upstream.error_code).toBe('BAD_TOKEN');
    expect(res.text).not.toContain(LEAKED_JWT);
    expect(res.text).not.toContain(LEAKED_JWT.split('.')[2]);
  });
});
