/**
 * the log masker's token-shape, userinfo and auth-scheme patterns backtracked, so a
 * 14 KB crafted path cost 90-200 ms of event loop per request. Every regular expression in
 * src/ is held to linear time by eslint-plugin-regexp (a static check, no timing). That check
 * only sees quantifiers at the start of a pattern, so the masker's JWT and userinfo shapes are
 * hand-written scanners instead (their equivalence to the old patterns is property-tested in
 * mask.test.ts), and `npm run bench` times worst-case inputs against ordinary ones.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const root = join(__dirname, '../../..');

interface LintResult {
  filePath: string;
  messages: Array<{ line: number; message: string }>;
}

/** Runs the real ESLint with only the linear-time rules; returns "file:line message" lines. */
async function superLinearFindings(files: string[]): Promise<string[]> {
  const bin = join(root, 'node_modules/eslint/bin/eslint.js');
  const args = [bin, '-c', 'test/eslint-linear.config.mjs', '--format', 'json', ...files];
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)(process.execPath, args, { cwd: root }));
  } catch (err) {
    // exit 1: problems found, reported on stdout
    stdout = (err as { stdout?: string }).stdout ?? '';
    if (stdout === '') throw err;
  }
  return (JSON.parse(stdout) as LintResult[]).flatMap((r) =>
    r.messages.map((m) => `${r.filePath.slice(root.length + 1)}:${m.line} ${m.message}`),
  );
}

describe('every pattern in src/ runs in linear time', () => {
  it('has no super-linear regular expression', async () => {
    expect(await superLinearFindings(['src'])).toEqual([]);
  });

  it('the check is live: it reports a quadratic pattern once used in src/', async () => {
    // `/\/+$/` on a prefix: every slash of a run is a start position that scans the run.
    const dir = mkdtempSync(join(root, 'test', 'tmp-regex-'));
    const file = join(dir, 'quadratic.ts');
    writeFileSync(file, "export const trim = (p: string): string => p.replace(/\\/+$/, '');\n");
    const findings = await superLinearFindings([file]);
    rmSync(dir, { recursive: true, force: true });
    expect(findings).toEqual([expect.stringContaining('quadratic runtime')]);
  });
});
