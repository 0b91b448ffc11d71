import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const DIR = join(__dirname, '../../config/prometheus');

/** promtool comes with Debian's prometheus package; .ci/run installs it. */
function promtool(...args: string[]): string {
  return execFileSync('promtool', args, {
    cwd: DIR,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

describe('alert rules', () => {
  const rules = (
    parse(readFileSync(join(DIR, 'alerts.yml'), 'utf8')) as {
      groups: Array<{ rules: Array<{ alert: string; annotations: Record<string, string> }> }>;
    }
  ).groups.flatMap((g) => g.rules);
  const tests = readFileSync(join(DIR, 'alerts.test.yml'), 'utf8');
  const runbooks = readFileSync(join(__dirname, '../../docs/alerts.md'), 'utf8');

  it('pass promtool check rules', () => {
    expect(promtool('check', 'rules', 'alerts.yml')).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('pass promtool test rules', () => {
    expect(promtool('test', 'rules', 'alerts.test.yml')).toContain('SUCCESS');
  });

  it.each(rules.map((r) => [r.alert, r]))(
    '%s has a summary, a runbook section and a promtool test',
    (name, rule) => {
      expect(rule.annotations.summary).toEqual(expect.any(String));
      expect(runbooks).toContain(`## ${name}\n`);
      expect(rule.annotations.runbook).toBe(`docs/alerts.md#${name.toLowerCase()}`);
      expect(tests).toContain(`alertname: ${name}\n`);
    },
  );

  it.each([
    'AuthgateUnauthorizedSpike',
    'AuthgateForbiddenSpike',
    'AuthgateAuthServiceDown',
    'AuthgateAuthServiceFailing',
    'AuthgateTokenValidationSlow',
    'AuthgateUpstream5xx',
    'AuthgateUpstreamAuthErrors',
    'AuthgateJwksRefreshFailing',
    'AuthgateRedisDown',
    'AuthgateRateLimitSurge',
  ])('the rule set covers %s', (name) => {
    expect(rules.map((r) => r.alert)).toContain(name);
  });
});
