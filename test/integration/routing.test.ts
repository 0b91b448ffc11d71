import request from 'supertest';
import {
  route,
  startProxy,
  startUpstream,
  type TestProxy,
  type TestUpstream,
} from '../helpers/servers';

describe('routing', () => {
  let a: TestUpstream;
  let b: TestUpstream;
  let proxy: TestProxy;
  beforeAll(async () => {
    a = await startUpstream();
    b = await startUpstream();
    proxy = await startProxy({
      routes: [
        route(a.url, { name: 'mlflow', prefix: '/mlflow', stripPrefix: true }),
        route(b.url, { name: 'artifacts', prefix: '/mlflow/artifacts' }),
        route(`${b.url}/v2/`, { name: 'based', prefix: '/based', stripPrefix: true }),
        route(a.url, { name: 'upstream-host', prefix: '/uh', preserveHost: false }),
      ],
    });
  });
  afterAll(async () => {
    await proxy.close();
    await a.close();
    await b.close();
  });

  const last = (u: TestUpstream) => u.seen[u.seen.length - 1]!;

  it.each([
    ['/mlflow/api/2.0/x', 'a', '/api/2.0/x'],
    ['/mlflow', 'a', '/'],
    ['/mlflow/', 'a', '/'],
    ['/mlflow/artifacts/f.bin', 'b', '/mlflow/artifacts/f.bin'],
    ['/mlflow/artifactsX', 'a', '/artifactsX'],
    ['/based/q?x=1', 'b', '/v2/q?x=1'],
    ['/based', 'b', '/v2/'],
    ['/mlflow/./x/../y', 'a', '/y'],
    ['/mlflow//api', 'a', '/api'],
    // Route selection ignores case (many upstreams route case-insensitively); the path goes on as sent.
    ['/MLFLOW', 'a', '/'],
    ['/MLflow/Artifacts/f.bin', 'b', '/MLflow/Artifacts/f.bin'],
  ])('%s goes to upstream %s as %s', async (path, which, forwarded) => {
    const u = which === 'a' ? a : b;
    const before = u.seen.length;
    const res = await request(proxy.url).get(path);
    expect(res.status).toBe(200);
    expect(u.seen.length).toBe(before + 1);
    expect(last(u).url).toBe(forwarded);
  });

  it.each(['/', '/mlflowx', '/other/mlflow', '/MLFLOWX'])(
    '%s → 404 ROUTE_NOT_FOUND',
    async (path) => {
      const res = await request(proxy.url).get(path);
      expect(res.status).toBe(404);
      expect(res.body.error_code).toBe('ROUTE_NOT_FOUND');
      expect(res.body.origin).toBe('proxy');
      expect(res.text).not.toContain(path.slice(1) || 'zzz-never');
    },
  );

  it('a dot-segment cannot climb out of a route prefix into another route', async () => {
    const before = b.seen.length;
    const res = await request(proxy.url).get('/mlflow/artifacts/../../based/q');
    expect(res.status).toBe(200);
    expect(b.seen.length).toBe(before + 1);
    expect(last(b).url).toBe('/v2/q');
  });

  it('ambiguous encodings are refused before routing', async () => {
    for (const path of ['/mlflow%2Fartifacts', '/mlflow/a%5Cb', '/mlflow/%zz']) {
      const res = await request(proxy.url).get(path);
      expect(res.status).toBe(400);
      expect(res.body.error_code).toBe('BAD_REQUEST');
    }
  });

  it('preserveHost: false sends the upstream host', async () => {
    await request(proxy.url).get('/uh').set('Host', 'client.example');
    const raw = last(a).rawHeaders;
    const host = raw[raw.findIndex((h) => h.toLowerCase() === 'host') + 1];
    expect(host).toBe(new URL(a.url).host);
  });

  it('health and readiness are answered locally and not logged', async () => {
    const before = a.seen.length + b.seen.length;
    const health = await request(proxy.url).get('/healthz');
    const ready = await request(proxy.url).get('/readyz');
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: 'ok' });
    expect(ready.status).toBe(200);
    expect(a.seen.length + b.seen.length).toBe(before);
    expect(
      proxy.logs.entries().filter((e) => e.path === '/healthz' || e.path === '/readyz'),
    ).toEqual([]);
  });
});
