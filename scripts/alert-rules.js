#!/usr/bin/env node
// Writes config/prometheus/alerts.yml for your Prometheus: the scrape job's name and where the
// runbooks live, both in one place.
//
//   node scripts/alert-rules.js --job authgate-prod --runbook-base https://wiki.example.com/authgate/alerts > alerts.yml
//
// Every rule then selects {job="<job>"} (so other services' series of the same names never
// match) and links `<runbook-base>#<alertname lower-cased>`. The source is the committed
// config/prometheus/alerts.yml (unscoped, runbooks relative to docs/alerts.md, with its
// promtool tests); test/unit/alert-rules.test.ts checks the rendered rules with promtool.
const fs = require('node:fs');
const path = require('node:path');
const { parseArgs } = require('node:util');
const YAML = require('yaml');

const SOURCE = path.join(__dirname, '..', 'config', 'prometheus', 'alerts.yml');
const JOB = /^[A-Za-z0-9_:.\-/]+$/;

/** Adds job="<job>" to every authgate_* selector and to up{}, and sets each runbook URL. */
function render({ job, runbookBase }) {
  if (!JOB.test(job)) throw new Error(`--job must match ${JOB}`);
  const doc = YAML.parseDocument(fs.readFileSync(SOURCE, 'utf8'));
  for (const group of doc.get('groups').items) {
    for (const rule of group.get('rules').items) {
      const expr = rule.get('expr');
      const scoped = expr
        // drop any job matcher the source carries, then add ours to every selector
        .replace(/job="[^"]*",?\s*/g, '')
        .replace(/\b(up|authgate_[a-z_]+)\{/g, `$1{job="${job}", `)
        .replace(/\b(up|authgate_[a-z_]+)(?=[\s)[\]]|$)(?!\{)/gm, `$1{job="${job}"}`)
        .replace(/, \}/g, '}');
      rule.set('expr', scoped);
      const name = rule.get('alert');
      rule.get('annotations').set('runbook', `${runbookBase}#${name.toLowerCase()}`);
    }
  }
  return doc.toString({ lineWidth: 0 });
}

if (require.main === module) {
  const { values } = parseArgs({
    options: {
      job: { type: 'string', default: 'authgate' },
      'runbook-base': { type: 'string', default: 'docs/alerts.md' },
    },
  });
  process.stdout.write(render({ job: values.job, runbookBase: values['runbook-base'] }));
}

module.exports = { render };
