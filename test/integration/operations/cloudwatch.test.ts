/**
 * deploy/cloudwatch: the CloudFormation passes the real cfn-lint (PyPI, .tools/cfnlint), and
 * each metric filter matches the log lines authgate really writes for its case — from a real
 * authgate with a real auth service that goes down — and no line of another case.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { parse } from 'yaml';
import { startAuthService, type AuthService } from '../../helpers/auth-service';
import { matchesPattern, parsePattern } from '../../helpers/cloudwatch-pattern';
import { sign } from '../../helpers/jwks';
import { ROOT } from '../../helpers/process';
import {
  startProxy,
  startUpstream,
  type TestProxy,
  type TestUpstream,
} from '../../helpers/servers';
import { waitFor } from '../../helpers/wait';

const TEMPLATE = join(ROOT, 'deploy/cloudwatch/authgate-alarms.yaml');
const SECRET = 'cloudwatch-secret-0123456789abcdefghij';
const KEY = 'hok_live_cloudwatch-key-0123456789';

/** CloudFormation's short tags (!Ref ...) read as plain values. */
const template = parse(readFileSync(TEMPLATE, 'utf8'), {
  customTags: [
    { tag: '!Ref', resolve: (v: string) => ({ Ref: v }) },
    { tag: '!Sub', resolve: (v: string) => ({ 'Fn::Sub': v }) },
  ],
}) as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
const filters = Object.fromEntries(
  Object.values(template.Resources)
    .filter((r) => r.Type === 'AWS::Logs::MetricFilter')
    .map((r) => {
      const t = (r.Properties.MetricTransformations as Array<{ MetricName: string }>)[0]!;
      return [t.MetricName, r.Properties.FilterPattern as string];
    }),
);

test('cfn-lint passes the template', () => {
  const out = execFileSync(join(ROOT, '.tools/cfnlint/bin/cfn-lint'), [TEMPLATE], {
    encoding: 'utf8',
  });
  expect(out).toBe('');
});

test('every alarm and query is there, and every filter pattern is one the matcher reads', () => {
  const types = Object.values(template.Resources).map((r) => r.Type);
  expect(types.filter((t) => t === 'AWS::CloudWatch::Alarm')).toHaveLength(4);
  expect(types.filter((t) => t === 'AWS::Logs::QueryDefinition').length).toBeGreaterThan(2);
  expect(Object.keys(filters).sort()).toEqual([
    'AuthDenials',
    'AuthLatencyMs',
    'AuthServiceFailures',
    'Forbidden403',
    'Requests',
    'Unauthorized401',
  ]);
  for (const p of Object.values(filters)) expect(() => parsePattern(p)).not.toThrow();
});

describe("the filters against authgate's real lines", () => {
  let upstream: TestUpstream;
  let service: AuthService;
  let proxy: TestProxy;
  const lines: Record<string, Array<Record<string, unknown>>> = {};

  beforeAll(async () => {
    upstream = await startUpstream();
    service = await startAuthService();
    service.keys.set(KEY, { user_id: 'ci', scopes: ['read'] });
    proxy = await startProxy({
      auth: {
        failedAuthGuard: { maxFailures: 0 },
        jwt: { issuers: [{ issuer: 'idp', algorithms: ['HS256'], secret: SECRET }] },
        apiKeys: {
          prefixes: ['hok_live_'],
          validateUrl: service.url,
          hashSecret: 'cloudwatch-hash-secret-0123456789abcd',
          retries: 0,
          probeIntervalSec: 1,
        },
      },
      routes: [{ name: 'api', prefix: '/', upstream: upstream.url, scopes: ['read'] }],
    });
    const read = sign(SECRET, { iss: 'idp', claims: { scope: 'read' } });
    const other = sign(SECRET, { iss: 'idp', claims: { scope: 'other' } });
    const mark = () => proxy.logs.entries().length;
    const since = (from: number) => proxy.logs.entries().slice(from);

    let at = mark();
    await request(proxy.url).get('/ok').set('Authorization', `Bearer ${read}`).expect(200);
    lines.allowed = since(at);
    at = mark();
    await request(proxy.url).get('/no-credential').expect(401);
    lines.unauthorized = since(at);
    at = mark();
    await request(proxy.url).get('/scope').set('Authorization', `Bearer ${other}`).expect(403);
    lines.forbidden = since(at);
    at = mark();
    await service.close();
    await waitFor('auth service down line', () =>
      proxy.logs.entries().some((e) => e.message === 'auth service down'),
    );
    await request(proxy.url).get('/key').set('X-API-Key', KEY).expect(503);
    lines.authServiceDown = since(at);
  });
  afterAll(async () => {
    await proxy?.close();
    await upstream?.close();
  });

  const matching = (metric: string, set: string) =>
    (lines[set] ?? []).filter((l) => matchesPattern(filters[metric]!, l));

  test.each<[string, string, number]>([
    ['Requests', 'allowed', 1],
    ['Requests', 'unauthorized', 1],
    ['Unauthorized401', 'unauthorized', 1],
    ['Unauthorized401', 'allowed', 0],
    ['Unauthorized401', 'forbidden', 0],
    ['Forbidden403', 'forbidden', 1],
    ['Forbidden403', 'unauthorized', 0],
    ['AuthDenials', 'unauthorized', 1],
    ['AuthDenials', 'forbidden', 1],
    ['AuthDenials', 'allowed', 0],
    ['AuthDenials', 'authServiceDown', 0],
    ['AuthLatencyMs', 'allowed', 1],
    ['AuthServiceFailures', 'authServiceDown', 2],
    ['AuthServiceFailures', 'unauthorized', 0],
    ['AuthServiceFailures', 'allowed', 0],
  ])('%s matches %s lines: %d', (metric, set, count) => {
    expect(matching(metric, set)).toHaveLength(count);
  });
});
