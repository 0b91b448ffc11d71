// Generates config/grafana/authgate.json (a Grafana dashboard over the docs/design.md#metrics series).
// Run: node scripts/grafana-dashboard.js
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');

const ds = { type: 'prometheus', uid: '${DS_PROMETHEUS}' };
let id = 0;
function panel(
  title,
  exprs,
  { x, y, w = 12, h = 8, unit = 'short', type = 'timeseries', description = '' },
) {
  return {
    id: ++id,
    type,
    title,
    description,
    datasource: ds,
    gridPos: { x, y, w, h },
    fieldConfig: { defaults: { unit }, overrides: [] },
    options:
      type === 'stat'
        ? { reduceOptions: { calcs: ['lastNotNull'] } }
        : { legend: { displayMode: 'table', placement: 'right' } },
    targets: exprs.map(([expr, legendFormat], i) => ({
      refId: String.fromCharCode(65 + i),
      datasource: ds,
      expr,
      legendFormat,
    })),
  };
}

const sel = 'job=~"$job", route=~"$route"';
const panels = [
  panel(
    'Requests by status',
    [
      [
        `sum by (status) (rate(authgate_http_requests_total{${sel}}[$__rate_interval]))`,
        '{{status}}',
      ],
    ],
    { x: 0, y: 0, unit: 'reqps' },
  ),
  panel(
    'Latency p50 / p99 by route',
    [
      [
        `histogram_quantile(0.5, sum by (le, route) (rate(authgate_http_request_duration_seconds_bucket{${sel}}[$__rate_interval])))`,
        'p50 {{route}}',
      ],
      [
        `histogram_quantile(0.99, sum by (le, route) (rate(authgate_http_request_duration_seconds_bucket{${sel}}[$__rate_interval])))`,
        'p99 {{route}}',
      ],
    ],
    { x: 12, y: 0, unit: 's' },
  ),
  panel(
    'Auth denials by reason (why are we seeing 401s?)',
    [
      [
        `sum by (reason) (rate(authgate_auth_decisions_total{${sel}, result="deny"}[$__rate_interval]))`,
        '{{reason}}',
      ],
    ],
    { x: 0, y: 8, unit: 'reqps' },
  ),
  panel(
    'Auth decisions by method and result',
    [
      [
        `sum by (auth_method, result) (rate(authgate_auth_decisions_total{${sel}}[$__rate_interval]))`,
        '{{auth_method}} {{result}}',
      ],
    ],
    { x: 12, y: 8, unit: 'reqps' },
  ),
  panel(
    'Upstream errors by kind',
    [
      [
        `sum by (route, kind) (rate(authgate_upstream_errors_total{${sel}}[$__rate_interval]))`,
        '{{route}} {{kind}}',
      ],
    ],
    { x: 0, y: 16, unit: 'reqps' },
  ),
  panel(
    'Upstream 401/403',
    [
      [
        `sum by (route, status) (rate(authgate_upstream_auth_errors_total{${sel}}[$__rate_interval]))`,
        '{{route}} {{status}}',
      ],
    ],
    { x: 12, y: 16, unit: 'reqps' },
  ),
  panel(
    'Token validation p99 (uncached)',
    [
      [
        `histogram_quantile(0.99, sum by (le, auth_method) (rate(authgate_token_validation_duration_seconds_bucket{job=~"$job"}[$__rate_interval])))`,
        '{{auth_method}}',
      ],
    ],
    { x: 0, y: 24, w: 8, unit: 's' },
  ),
  panel(
    'Auth service',
    [
      [`min(authgate_auth_service_up{job=~"$job"})`, 'up (min over instances)'],
      [
        `sum by (result) (rate(authgate_auth_service_requests_total{job=~"$job"}[$__rate_interval]))`,
        '{{result}}',
      ],
    ],
    { x: 8, y: 24, w: 8 },
  ),
  panel(
    'API-key cache hit ratio',
    [
      [
        `sum by (layer) (rate(authgate_api_key_cache_total{job=~"$job", result=~"hit|negative_hit"}[$__rate_interval])) / sum by (layer) (rate(authgate_api_key_cache_total{job=~"$job"}[$__rate_interval]))`,
        '{{layer}}',
      ],
    ],
    { x: 16, y: 24, w: 8, unit: 'percentunit' },
  ),
  panel('In flight', [[`sum(authgate_http_requests_in_flight{job=~"$job"})`, 'in flight']], {
    x: 0,
    y: 32,
    w: 6,
    type: 'stat',
  }),
  panel('Redis up', [[`min(authgate_redis_up{job=~"$job"})`, 'redis']], {
    x: 6,
    y: 32,
    w: 6,
    type: 'stat',
  }),
  panel(
    'JWKS refreshes',
    [
      [
        `sum by (issuer, result) (increase(authgate_jwks_refresh_total{job=~"$job"}[$__range]))`,
        '{{issuer}} {{result}}',
      ],
      [`min by (issuer) (authgate_jwks_up{job=~"$job"})`, '{{issuer}} up'],
    ],
    { x: 12, y: 32, w: 6, type: 'stat' },
  ),
  panel(
    'Rate limited',
    [
      [
        `sum by (route, by) (rate(authgate_rate_limited_total{${sel}}[$__rate_interval]))`,
        '{{route}} {{by}}',
      ],
    ],
    { x: 18, y: 32, w: 6, unit: 'reqps' },
  ),
];

const dashboard = {
  __inputs: [
    { name: 'DS_PROMETHEUS', label: 'Prometheus', type: 'datasource', pluginId: 'prometheus' },
  ],
  title: 'authgate',
  uid: 'authgate',
  tags: ['authgate', 'auth', 'proxy'],
  timezone: 'browser',
  schemaVersion: 39,
  refresh: '30s',
  time: { from: 'now-6h', to: 'now' },
  templating: {
    list: [
      {
        name: 'job',
        type: 'query',
        datasource: ds,
        query: 'label_values(authgate_build_info, job)',
        includeAll: true,
        multi: true,
        current: { text: 'All', value: '$__all' },
      },
      {
        name: 'route',
        type: 'query',
        datasource: ds,
        query: 'label_values(authgate_http_requests_total{job=~"$job"}, route)',
        includeAll: true,
        multi: true,
        current: { text: 'All', value: '$__all' },
      },
    ],
  },
  panels,
};

writeFileSync(
  join(__dirname, '..', 'config', 'grafana', 'authgate.json'),
  JSON.stringify(dashboard, null, 2) + '\n',
);
console.log('config/grafana/authgate.json written');
