/**
 * The dashboard is checked against Grafana's own dashboard schema. No Grafana server
 * can run here (it is packaged neither by Debian nor on npm), so the check uses the schema
 * Grafana publishes as `@grafana/schema` (TypeScript types generated from Grafana's CUE kinds):
 * the dashboard, as an object literal, must `satisfies Dashboard` — every key known, every
 * value of the right type. A broken dashboard is shown to fail the same check.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '../../..');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

/** Type-checks `dashboard` against Grafana's Dashboard type; the compiler's errors, or ''. */
function schemaErrors(dashboard: Record<string, unknown>): string {
  // The export format's `__inputs` (datasource placeholders) is not part of the model.
  const model = Object.fromEntries(Object.entries(dashboard).filter(([k]) => k !== '__inputs'));
  const dir = mkdtempSync(join(ROOT, '.tmp-grafana-'));
  try {
    writeFileSync(
      join(dir, 'check.ts'),
      [
        "import type { Dashboard } from '@grafana/schema';",
        `export const dashboard = ${JSON.stringify(model, null, 2)} satisfies Dashboard;`,
        '',
      ].join('\n'),
    );
    execFileSync(
      process.execPath,
      [
        TSC,
        '--ignoreConfig',
        '--noEmit',
        '--strict',
        '--skipLibCheck',
        '--module',
        'nodenext',
        '--target',
        'es2022',
        join(dir, 'check.ts'),
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
    return '';
  } catch (err) {
    return String((err as { stdout?: string }).stdout ?? err);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("config/grafana/authgate.json against Grafana's dashboard schema", () => {
  const dashboard = JSON.parse(
    readFileSync(join(ROOT, 'config/grafana/authgate.json'), 'utf8'),
  ) as Record<string, unknown> & { panels: Array<Record<string, unknown>> };

  it('satisfies the Dashboard kind', () => {
    expect(schemaErrors(dashboard)).toBe('');
  });

  it('a panel with a wrong type fails the same check', () => {
    const [first, ...rest] = dashboard.panels;
    const broken = {
      ...dashboard,
      panels: [{ ...first, gridPos: { x: 'left', y: 0, w: 12, h: 8 } }, ...rest],
    };
    expect(schemaErrors(broken)).toMatch(
      /error TS2322: Type 'string' is not assignable to type 'number'/,
    );
  });

  it('an unknown dashboard key fails the same check', () => {
    expect(schemaErrors({ ...dashboard, refreshEvery: '30s' })).toMatch(
      /'"refreshEvery"' does not exist in type 'Dashboard'/,
    );
  });
});
