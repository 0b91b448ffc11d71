import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mlflowScopeTable } from '../../../src/presets/mlflow';

/** Table text without the padding Prettier adds. */
const normalize = (s: string): string =>
  s
    .split('\n')
    .map((l) =>
      l
        .replace(/ {2,}/g, ' ')
        .replace(/-{2,}/g, '-')
        .replace(/\| *-?:?-* *(?=\|)/g, '|-')
        .trim(),
    )
    .filter((l) => l !== '')
    .join('\n');

describe('docs/mlflow.md', () => {
  it('embeds the preset scope table generated from the code (run `npm run docs:mlflow`)', () => {
    const doc = readFileSync(join(__dirname, '../../../docs/mlflow.md'), 'utf8');
    const a = doc.indexOf('<!-- preset-table:start -->');
    const b = doc.indexOf('<!-- preset-table:end -->');
    expect(a).toBeGreaterThan(-1);
    const embedded = doc.slice(a + '<!-- preset-table:start -->'.length, b);
    expect(normalize(embedded)).toBe(normalize(mlflowScopeTable()));
  });
});
