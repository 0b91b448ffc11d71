import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '../../..');
const file = join(ROOT, 'config/grafana/authgate.json');
const DESIGN_METRICS = [
  'authgate_http_requests_total',
  'authgate_http_request_duration_seconds',
  'authgate_http_requests_in_flight',
  'authgate_auth_decisions_total',
  'authgate_token_validation_duration_seconds',
  'authgate_upstream_errors_total',
  'authgate_upstream_auth_errors_total',
  'authgate_auth_service_up',
  'authgate_auth_service_requests_total',
  'authgate_api_key_cache_total',
  'authgate_jwks_refresh_total',
  'authgate_jwks_up',
  'authgate_rate_limited_total',
  'authgate_redis_up',
  'authgate_build_info',
];

describe('Grafana dashboard', () => {
  const dashboard = JSON.parse(readFileSync(file, 'utf8')) as {
    panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
    templating: { list: Array<{ query: string }> };
  };
  const exprs = [
    ...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)),
    ...dashboard.templating.list.map((t) => t.query),
  ];

  it('is what scripts/grafana-dashboard.js generates', () => {
    const before = readFileSync(file, 'utf8');
    execFileSync(process.execPath, [join(ROOT, 'scripts/grafana-dashboard.js')], {
      stdio: 'ignore',
    });
    expect(readFileSync(file, 'utf8')).toBe(before);
  });

  it('uses only the metric names of docs/design.md#metrics', () => {
    for (const expr of exprs) {
      for (const name of expr.match(/authgate_[a-z_]+/g) ?? []) {
        expect(DESIGN_METRICS.some((m) => name === m || name.startsWith(`${m}_`))).toBe(true);
      }
    }
  });

  it.each([
    ['traffic', /^Requests by status$/],
    ['latency', /^Latency/],
    ['auth decisions by reason', /denials by reason/],
    ['upstream errors', /^Upstream errors/],
    ['auth service', /^Auth service$/],
    ['cache hit ratio', /cache hit ratio/],
  ])('has a %s panel', (_topic, title) => {
    expect(dashboard.panels.some((p) => title.test(p.title))).toBe(true);
  });
});
