/**
 * Every reason code authgate puts in an access, audit or warn line is explained in
 * docs/troubleshooting.md: the reasons are found in the source as they are written there
 * (`reason: 'x'`, `invalid('x'`, the guard's and framing's `bad(.., 'x')` / `refuse(.., 'x')`,
 * `tenantForbidden('x'`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '../../..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(join(dir, e.name))
      : e.name.endsWith('.ts')
        ? [readFileSync(join(dir, e.name), 'utf8')]
        : [],
  );
}

const PATTERN = /(?:reason: |invalid\(|tenantForbidden\(|refuse\([^,]+, |bad\([^,]+, )'([a-z_]+)'/g;

describe('every reason code is documented', () => {
  const reasons = [
    ...new Set(
      sources(join(ROOT, 'src')).flatMap((text) => [...text.matchAll(PATTERN)].map((m) => m[1]!)),
    ),
  ].sort();
  const docs = readFileSync(join(ROOT, 'docs/troubleshooting.md'), 'utf8');

  it('finds the reasons in the source (the pattern still matches how they are written)', () => {
    expect(reasons.length).toBeGreaterThan(60);
    expect(reasons).toEqual(
      expect.arrayContaining(['bad_signature', 'missing_exp', 'failed_auth_guard']),
    );
  });

  it('docs/troubleshooting.md names each of them', () => {
    expect(reasons.filter((r) => !new RegExp(`\\b${r}\\b`).test(docs))).toEqual([]);
  });
});
