#!/usr/bin/env node
// Writes docs/mutation-report.md from StrykerJS's JSON report (reports/mutation/mutation.json):
// the score per file and every mutant that survived, so the committed summary is the run's own.
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const report = JSON.parse(readFileSync(join(root, 'reports/mutation/mutation.json'), 'utf8'));
const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);

const rows = [];
const survivors = [];
const total = { killed: 0, timeout: 0, survived: 0, noCoverage: 0, ignored: 0, errors: 0 };
for (const [file, { source, mutants }] of Object.entries(report.files).sort()) {
  const c = { killed: 0, timeout: 0, survived: 0, noCoverage: 0, ignored: 0, errors: 0 };
  const lines = source.split('\n');
  for (const m of mutants) {
    if (m.status === 'Killed') c.killed++;
    else if (m.status === 'Timeout') c.timeout++;
    else if (m.status === 'Survived') c.survived++;
    else if (m.status === 'NoCoverage') c.noCoverage++;
    else if (m.status === 'Ignored') c.ignored++;
    else c.errors++;
    if (UNDETECTED.has(m.status)) {
      const line = m.location.start.line;
      survivors.push(
        `| ${file}:${line} | ${m.mutatorName} | \`${(lines[line - 1] ?? '').trim().replace(/\|/g, '\\|').slice(0, 90)}\` → \`${String(
          m.replacement ?? '',
        )
          .replace(/\s+/g, ' ')
          .replace(/\|/g, '\\|')
          .slice(0, 60)}\` |`,
      );
    }
  }
  for (const k of Object.keys(total)) total[k] += c[k];
  rows.push([file, c]);
}
const score = (c) => {
  const detected = c.killed + c.timeout;
  const valid = detected + c.survived + c.noCoverage;
  return valid === 0 ? 'n/a' : `${((100 * detected) / valid).toFixed(1)} %`;
};
void DETECTED;
const groups = new Map();
for (const [file, c] of rows) {
  const dir = file.split('/').slice(0, -1).join('/');
  const g = groups.get(dir) ?? {
    killed: 0,
    timeout: 0,
    survived: 0,
    noCoverage: 0,
    ignored: 0,
    errors: 0,
  };
  for (const k of Object.keys(g)) g[k] += c[k];
  groups.set(dir, g);
}
const groupTable = [...groups].map(
  ([dir, c]) =>
    `| ${dir}/ | ${score(c)} | ${c.killed} | ${c.timeout} | ${c.survived} | ${c.noCoverage} |`,
);
const table = rows.map(
  ([f, c]) =>
    `| ${f} | ${score(c)} | ${c.killed} | ${c.timeout} | ${c.survived} | ${c.noCoverage} | ${c.ignored} |`,
);
const out = `# Mutation report

StrykerJS ${report.framework?.version ?? ''} with the jest runner, against the **unit tier alone**
(\`test/jest.unit.config.js\`), on the modules that decide a request. Regenerate with
\`npm run test:mutation && node scripts/mutation-report.js\`. Score = (killed + timed out) /
(killed + timed out + survived + not covered); static mutants (module-level constants such as
the lists of sensitive names) are included: they run the whole unit tier.

| module | score | killed | timed out | survived | no coverage |
|---|---|---|---|---|---|
${groupTable.join('\n')}

| file | score | killed | timed out | survived | no coverage | ignored |
|---|---|---|---|---|---|---|
${table.join('\n')}
| **all** | **${score(total)}** | ${total.killed} | ${total.timeout} | ${total.survived} | ${total.noCoverage} | ${total.ignored} |

## Surviving mutants

Each is a change to the code that no unit test notices. Some are equivalent (they do not change
behaviour: the scrubber's pre-check and the header-name memo are fast paths, an empty-match step
no pattern here can take, a \`?? '/'\` for a path hygiene always sets); the others are checked
only by the integration tier (the debug line of a credential-less request, the ALB's identity)
and are the next unit tables to write.

| where | mutator | original → mutant |
|---|---|---|
${survivors.join('\n')}
`;
writeFileSync(join(root, 'docs/mutation-report.md'), out);
console.log(
  `mutation score ${score(total)} (${rows.length} files, ${survivors.length} undetected)`,
);
