import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { sign } from '../helpers/jwks';
import {
  rawRequest,
  route,
  startProxy,
  startUpstream,
  type TestProxy,
  type TestUpstream,
} from '../helpers/servers';

const SECRET = 'metrics-test-secret-0123456789abcdefghij';
const DESIGN_SERIES: Array<[string, string[]]> = [
  ['authgate_http_requests_total', ['route', 'method', 'status']],
  ['authgate_http_request_duration_seconds_bucket', ['route', 'method', 'le']],
  ['authgate_http_requests_in_flight', []],
  ['authgate_auth_decisions_total', ['route', 'auth_method', 'result', 'reason']],
  ['authgate_token_validation_duration_seconds_bucket', ['auth_method', 'le']],
  ['authgate_upstream_errors_total', ['route', 'kind']],
  ['authgate_upstream_auth_errors_total', ['route', 'status']],
  ['authgate_auth_service_up', []],
  ['authgate_redis_up', []],
  ['authgate_build_info', ['version', 'node_version']],
  ['process_cpu_seconds_total', []],
  ['nodejs_eventloop_lag_seconds', []],
];

function seriesOf(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

function labelNames(line: string): string[] {
  const m = /\{([^}]*)\}/.exec(line);
  if (!m) return [];
  return [...m[1]!.matchAll(/(\w+)="/g)].map((x) => x[1]!).sort();
}

describe('Prometheus metrics', () => {
  let upstream: TestUpstream;
  let proxy: TestProxy;
  const scrape = async (): Promise<string> =>
    (
      await request(`http://127.0.0.1:${proxy.running.metricsPort}`)
        .get('/metrics')
        .set('Authorization', 'Bearer scrape-token-0123456789')
    ).text;

  beforeAll(async () => {
    upstream = await startUpstream((req, res) => {
      if (req.url?.startsWith('/api/forbidden')) return void res.writeHead(403).end();
      res.writeHead(200).end('ok');
    });
    proxy = await startProxy({
      metrics: { port: 9090, bearerToken: 'scrape-token-0123456789' },
      auth: {
        jwt: { issuers: [{ issuer: 'm', audience: 'api', algorithms: ['HS256'], secret: SECRET }] },
      },
      routes: [
        route(upstream.url, { name: 'api', prefix: '/api', auth: 'required' }),
        route('http://127.0.0.1:1', { name: 'down', prefix: '/down', auth: 'none' }),
      ],
    });
    const good = sign(SECRET, { iss: 'm' });
    await request(proxy.url).get('/api/ok').set('Authorization', `Bearer ${good}`);
    await request(proxy.url)
      .get('/api/ok')
      .set('Authorization', `Bearer ${sign(SECRET, { iss: 'm', iat: 1, expiresInSec: -100 })}`);
    await request(proxy.url).get('/api/ok');
    await request(proxy.url).get('/api/forbidden').set('Authorization', `Bearer ${good}`);
    await request(proxy.url).get('/down/x');
  });
  afterAll(async () => {
    await proxy.close();
    await upstream.close();
  });

  it('is served on its own listener, not on the main port', async () => {
    expect(proxy.running.metricsPort).not.toBe(proxy.running.port);
    expect((await request(proxy.url).get('/metrics')).status).toBe(404);
  });

  it('requires the configured bearer token', async () => {
    const base = `http://127.0.0.1:${proxy.running.metricsPort}`;
    expect((await request(base).get('/metrics')).status).toBe(401);
    expect((await request(base).get('/metrics').set('Authorization', 'Bearer wrong')).status).toBe(
      401,
    );
  });

  it.each(DESIGN_SERIES)('exposes %s with labels %j', async (name, labels) => {
    const lines = seriesOf(await scrape(), name);
    expect(lines.length).toBeGreaterThan(0);
    expect(labelNames(lines[0]!)).toEqual([...labels].sort());
  });

  it('counts requests, decisions with reasons, upstream errors and upstream 403s', async () => {
    const text = await scrape();
    expect(text).toMatch(/authgate_http_requests_total\{route="api",method="GET",status="200"\} 1/);
    expect(text).toMatch(
      /authgate_http_requests_total\{route="down",method="GET",status="502"\} 1/,
    );
    expect(text).toMatch(
      /authgate_auth_decisions_total\{route="api",auth_method="jwt",result="allow",reason="ok"\} 2/,
    );
    expect(text).toMatch(
      /authgate_auth_decisions_total\{route="api",auth_method="jwt",result="deny",reason="expired"\} 1/,
    );
    expect(text).toMatch(
      /authgate_auth_decisions_total\{route="api",auth_method="none",result="deny",reason="no_credentials"\} 1/,
    );
    expect(text).toMatch(/authgate_upstream_errors_total\{route="down",kind="connect_refused"\} 1/);
    expect(text).toMatch(/authgate_upstream_auth_errors_total\{route="api",status="403"\} 1/);
    expect(text).toMatch(/authgate_build_info\{version="\d+\.\d+\.\d+",node_version="v\d+/);
  });

  it('stays bounded after 10,000 requests to random paths and methods', async () => {
    const methods = [
      'GET',
      'POST',
      'PUT',
      'DELETE',
      'PATCH',
      'HEAD',
      'PROPFIND',
      'PURGE',
      'X-RANDOM',
    ];
    const burst = async (batches: number): Promise<void> => {
      for (let batch = 0; batch < batches; batch++) {
        await Promise.all(
          Array.from({ length: 100 }, (_, i) => {
            const path = `/${randomBytes(6).toString('hex')}/${randomBytes(4).toString('hex')}?q=${i}`;
            const method = methods[(batch + i) % methods.length]!;
            return rawRequest(proxy.url, { method, path, headers: ['Host', 'h'] }).catch(
              () => undefined,
            );
          }),
        );
      }
    };
    const count = async (): Promise<number> =>
      (await scrape()).split('\n').filter((l) => l.startsWith('authgate_')).length;
    await burst(50);
    const afterFirstHalf = await count();
    await burst(50);
    const afterSecondHalf = await count();
    // 5,000 more random paths added no series at all: labels are route names, not paths.
    expect(afterSecondHalf).toBe(afterFirstHalf);
    const text = await scrape();
    expect(text).not.toMatch(/route="\/[0-9a-f]/);
    expect(text).toMatch(
      /authgate_http_requests_total\{route="none",method="OTHER",status="404"\}/,
    );
    expect(text).toMatch(/authgate_http_requests_total\{route="none",method="GET",status="404"\}/);
  });
});
