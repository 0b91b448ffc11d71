/**
 * One CLI shape. Every subcommand that reads the config uses one loader and reports
 * problems the same way; `--version` prints the package version.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, runCli, writeConfig } from '../../helpers/process';

jest.setTimeout(60_000);

describe('authgate CLI', () => {
  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    for (const flag of ['--version', '-v']) {
      const r = await runCli([flag]);
      expect([r.code, r.stdout.trim()]).toEqual([0, version]);
    }
  });

  it('`<command> --help` prints that command’s usage and exits 0 (it was "Unknown option")', async () => {
    for (const [command, ...sub] of [
      ['serve'],
      ['token', 'mint'],
      ['diagnose'],
      ['api-key', 'create'],
    ]) {
      const r = await runCli([command as string, ...sub, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^usage:\\n  authgate ${command} `));
      expect(r.stderr).toBe('');
    }
  });

  it('serve, check-config, diagnose and api-key report a bad config in the same words, exit 1', async () => {
    const file = writeConfig({
      server: { prot: 80 },
      auth: {
        jwt: {
          issuers: [
            { issuer: 'i', algorithms: ['HS256'], secret: 'do-not-print-this-secret-0123456789' },
          ],
        },
      },
      routes: [{ name: 'a', upstream: 'http://u' }],
    });
    const outputs = [];
    for (const args of [['serve'], ['check-config'], ['diagnose'], ['api-key', 'revoke']]) {
      const r = await runCli([...args, '--config', file]);
      expect(r.code).toBe(1);
      outputs.push(r.stderr);
    }
    expect(outputs[0]).toBe(
      [
        `authgate: ${file}: 2 problem(s)`,
        '  server.prot: unknown key (did you mean "port"?)',
        '  routes[0].prefix: is required',
        '',
      ].join('\n'),
    );
    for (const o of outputs) expect(o).toBe(outputs[0]);
    for (const o of outputs) expect(o).not.toContain('do-not-print-this-secret');
  });
});
