import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { sign } from '../helpers/jwks';
import {
  freePort,
  route,
  startProxy,
  startUpstream,
  type TestProxy,
  type TestUpstream,
} from '../helpers/servers';

const SECRET = 'scrape-test-secret-0123456789abcdefghij';
const SCRAPE_TOKEN = 'scrape-bearer-token-0123456789';

interface PromVector {
  status: string;
  data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

/**
 * A real Prometheus (Debian package) scrapes a running authgate; traffic with good and bad
 * tokens is driven through it; the assertions go through Prometheus's HTTP query API.
 */
describe('a real Prometheus scrape', () => {
  let upstream: TestUpstream;
  let proxy: TestProxy;
  let prometheus: ChildProcess;
  let promUrl: string;

  beforeAll(async () => {
    upstream = await startUpstream();
    proxy = await startProxy({
      metrics: { port: 9090, bearerToken: SCRAPE_TOKEN },
      auth: {
        jwt: {
          issuers: [{ issuer: 'scrape', audience: 'api', algorithms: ['HS256'], secret: SECRET }],
        },
      },
      routes: [route(upstream.url, { name: 'mlflow', prefix: '/', auth: 'required' })],
    });
    const dir = mkdtempSync(join(tmpdir(), 'authgate-prom-'));
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        'scrape_configs:',
        '  - job_name: authgate',
        `    authorization: { type: Bearer, credentials: ${SCRAPE_TOKEN} }`,
        `    static_configs: [{ targets: ['127.0.0.1:${proxy.running.metricsPort}'] }]`,
        '',
      ].join('\n'),
    );
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: 'ignore' },
    );
  });

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((r) => prometheus.once('exit', r));
      prometheus.kill('SIGTERM');
      await exited;
    }
    await proxy.close();
    await upstream.close();
  });

  async function query(q: string): Promise<PromVector['data']['result']> {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = (await res.json()) as PromVector;
    return body.data.result;
  }

  async function eventually<T>(
    probe: () => Promise<T | undefined>,
    timeoutMs = 30_000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const v = await probe();
        if (v !== undefined) return v;
      } catch {
        /* Prometheus not up yet */
      }
      if (Date.now() > deadline) throw new Error('timed out waiting for Prometheus');
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  it('scrapes the target (up == 1)', async () => {
    const up = await eventually(async () => {
      const r = await query('up{job="authgate"}');
      return r[0]?.value[1] === '1' ? r[0] : undefined;
    });
    expect(up.metric.job).toBe('authgate');
  });

  it('sees auth failures with the right reasons after good and bad tokens', async () => {
    const good = sign(SECRET, { iss: 'scrape' });
    const expired = sign(SECRET, {
      iss: 'scrape',
      iat: Math.floor(Date.now() / 1000) - 600,
      expiresInSec: -300,
    });
    const forged = sign('some-other-secret-0123456789abcdefghijk', { iss: 'scrape' });
    for (let i = 0; i < 5; i++) {
      expect(
        (await request(proxy.url).get('/ok').set('Authorization', `Bearer ${good}`)).status,
      ).toBe(200);
    }
    for (let i = 0; i < 3; i++)
      await request(proxy.url).get('/x').set('Authorization', `Bearer ${expired}`);
    for (let i = 0; i < 2; i++)
      await request(proxy.url).get('/x').set('Authorization', `Bearer ${forged}`);
    await request(proxy.url).get('/x');

    const reasons = await eventually(async () => {
      const r = await query(
        'sum by (reason) (authgate_auth_decisions_total{job="authgate", result="deny"})',
      );
      const byReason = Object.fromEntries(r.map((s) => [s.metric.reason, Number(s.value[1])]));
      return byReason.expired === 3 && byReason.bad_signature === 2 && byReason.no_credentials === 1
        ? byReason
        : undefined;
    });
    expect(reasons).toEqual({ expired: 3, bad_signature: 2, no_credentials: 1 });

    const allowed = await query(
      'sum(authgate_auth_decisions_total{job="authgate", result="allow"})',
    );
    expect(Number(allowed[0]?.value[1])).toBe(5);
    const statuses = await query(
      'sum by (status) (authgate_http_requests_total{job="authgate", route="mlflow"})',
    );
    expect(Object.fromEntries(statuses.map((s) => [s.metric.status, Number(s.value[1])]))).toEqual({
      '200': 5,
      '401': 6,
    });
  });
});
