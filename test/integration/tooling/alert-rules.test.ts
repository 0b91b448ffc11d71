/**
 * The alert rules for your Prometheus — the scrape job and the runbook base in one
 * place (scripts/alert-rules.js). Checked with the real promtool: the rules load, every series
 * is scoped to the job, and an alert fires for its own job only.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { render } = require('../../../scripts/alert-rules.js') as {
  render(o: { job: string; runbookBase: string }): string;
};

const dir = mkdtempSync(join(tmpdir(), 'authgate-alerts-'));
const rules = render({
  job: 'authgate-prod',
  runbookBase: 'https://wiki.example.com/authgate/alerts',
});
writeFileSync(join(dir, 'alerts.yml'), rules);

describe('scripts/alert-rules.js', () => {
  it('renders rules promtool accepts', () => {
    expect(
      execFileSync('promtool', ['check', 'rules', join(dir, 'alerts.yml')], { encoding: 'utf8' }),
    ).toMatch(/SUCCESS: 11 rules found/);
  });

  it('scopes every series selector to the job and links every runbook from the base', () => {
    const doc = parse(rules) as { groups: Array<{ rules: Array<{ expr: string }> }> };
    const exprs = doc.groups.flatMap((g) => g.rules.map((r) => r.expr)).join('\n');
    const selectors = [...exprs.matchAll(/\b(up|authgate_[a-z_]+)(\{[^}]*\})?/g)];
    expect(selectors.length).toBeGreaterThan(15);
    for (const [, , labels] of selectors) expect(labels).toMatch(/^\{job="authgate-prod"/);
    const runbooks = [...rules.matchAll(/runbook: '([^']+)'/g)].map((m) => m[1]);
    expect(runbooks).toHaveLength(11);
    for (const r of runbooks)
      expect(r).toMatch(/^https:\/\/wiki\.example\.com\/authgate\/alerts#authgate[a-z0-9]+$/);
  });

  it('an alert fires for its own job only (promtool test rules)', () => {
    writeFileSync(
      join(dir, 'test.yml'),
      [
        'rule_files: [alerts.yml]',
        'evaluation_interval: 1m',
        'tests:',
        '  - interval: 1m',
        '    input_series:',
        '      - series: \'authgate_auth_service_up{job="authgate-prod", instance="a"}\'',
        "        values: '0x5'",
        '      - series: \'authgate_auth_service_up{job="someone-else", instance="b"}\'',
        "        values: '0x5'",
        '    alert_rule_test:',
        '      - eval_time: 3m',
        '        alertname: AuthgateAuthServiceDown',
        '        exp_alerts:',
        '          - exp_labels: { severity: critical, job: authgate-prod, instance: a }',
        '            exp_annotations:',
        "              summary: 'API-key auth service unreachable from a (circuit open)'",
        "              runbook: 'https://wiki.example.com/authgate/alerts#authgateauthservicedown'",
        '',
      ].join('\n'),
    );
    expect(
      execFileSync('promtool', ['test', 'rules', join(dir, 'test.yml')], { encoding: 'utf8' }),
    ).toMatch(/SUCCESS/);
  });

  it('refuses a job name that could break the selector', () => {
    expect(() => render({ job: 'a"} or vector(1) #', runbookBase: 'x' })).toThrow(
      /--job must match/,
    );
  });
});
