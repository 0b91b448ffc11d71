/**
 * Every answer authgate writes itself is a typed JSON error: the metrics listener's 404 too.
 */
import {
  rawRequest,
  route,
  startProxy,
  startUpstream,
  type TestProxy,
  type TestUpstream,
} from '../../helpers/servers';

describe('one writer of authgate’s own answers', () => {
  let upstream: TestUpstream;
  let proxy: TestProxy;
  beforeAll(async () => {
    upstream = await startUpstream();
    proxy = await startProxy({ routes: [route(upstream.url, { prefix: '/api' })] });
  });
  afterAll(async () => {
    await proxy.close();
    await upstream.close();
  });

  it.each([
    ['the main listener, no route', () => proxy.url, '/nowhere'],
    [
      'the metrics listener, not the scrape path',
      () => `http://127.0.0.1:${proxy.running.metricsPort}`,
      '/other',
    ],
  ])('%s: 404 ROUTE_NOT_FOUND as JSON with a request id', async (_name, base, path) => {
    const res = await rawRequest(base(), { path, headers: ['Host', 'x.example'] });
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toBe('application/json');
    const body = JSON.parse(res.body.toString()) as Record<string, unknown>;
    expect(body).toMatchObject({ error_code: 'ROUTE_NOT_FOUND', status: 404, origin: 'proxy' });
    expect(typeof body.request_id).toBe('string');
  });
});
