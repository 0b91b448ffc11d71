// Writes the MLflow preset's scope table into docs/mlflow.md (run after `npm run build`).
const { readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { mlflowScopeTable } = require('../dist/presets/mlflow');

const file = join(__dirname, '..', 'docs', 'mlflow.md');
const START = '<!-- preset-table:start -->';
const END = '<!-- preset-table:end -->';
const doc = readFileSync(file, 'utf8');
const a = doc.indexOf(START);
const b = doc.indexOf(END);
if (a === -1 || b === -1) throw new Error('docs/mlflow.md has no preset-table markers');
writeFileSync(file, `${doc.slice(0, a + START.length)}\n\n${mlflowScopeTable()}\n${doc.slice(b)}`);
console.log('docs/mlflow.md: preset table written');
