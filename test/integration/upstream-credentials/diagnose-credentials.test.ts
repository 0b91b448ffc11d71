/**
 * `authgate diagnose` (the real CLI process) says which provider supplied each
 * route's upstream credential and when it expires, or why every provider failed — and never
 * prints a credential.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, writeConfig } from '../../helpers/process';
import { startUpstream, type TestUpstream } from '../../helpers/servers';

const PASSWORD = 'diag-registry-password-5c1d';
const TOKEN = 'diag-command-token-77aa';

describe('authgate diagnose: upstream credentials', () => {
  let upstream: TestUpstream;
  const dir = mkdtempSync(join(tmpdir(), 'authgate-diag-creds-'));
  beforeAll(async () => {
    upstream = await startUpstream();
  });
  afterAll(() => upstream.close());

  const config = (providers: unknown[]) =>
    writeConfig({
      routes: [
        {
          name: 'registry',
          prefix: '/v2',
          upstream: upstream.url,
          auth: 'none',
          upstreamAuth: { mode: 'service', providers },
        },
      ],
    });

  it('names the provider that yields, the ones skipped before it, and the expiry', async () => {
    const script = `console.log(JSON.stringify({ accessToken: '${TOKEN}', expires_in: 3600 }))`;
    const out = await runCli(
      [
        'diagnose',
        '--config',
        config([
          { type: 'file', path: join(dir, 'missing') },
          { type: 'command', argv: [process.execPath, '-e', script] },
        ]),
        '--json',
      ],
      { REGISTRY_PASSWORD: PASSWORD },
    );
    expect(out.code).toBe(0);
    const report = JSON.parse(out.stdout) as {
      checks: Array<{ name: string; ok: boolean; detail: string }>;
    };
    const check = report.checks.find((c) => c.name === 'upstream credential registry');
    expect(check).toEqual({
      name: 'upstream credential registry',
      ok: true,
      detail: `bearer credential from command ${process.execPath}, expires in 60 min (skipped: file ${join(dir, 'missing')}: cannot read the file (ENOENT))`,
    });
    expect(out.stdout + out.stderr).not.toContain(TOKEN);
  });

  it('fails with every provider’s reason when none yields, never printing a secret', async () => {
    const file = join(dir, 'empty-secret');
    writeFileSync(file, '\n');
    const out = await runCli(
      [
        'diagnose',
        '--config',
        config([
          { type: 'env' },
          { type: 'file', path: file },
          {
            type: 'command',
            argv: [process.execPath, '-e', `console.log('${PASSWORD}'); process.exit(2)`],
          },
        ]),
      ],
      { REGISTRY_USERNAME: 'svc' },
    );
    expect(out.code).toBe(1);
    expect(out.stdout).toMatch(
      /FAIL\s+upstream credential registry\s+no provider yields a credential: /,
    );
    expect(out.stdout).toContain(
      'env: none of REGISTRY_USERNAME+REGISTRY_PASSWORD, REGISTRY_TOKEN, SERVICE_AUTH_TOKEN is set',
    );
    expect(out.stdout).toContain(`file ${file}: the file is empty`);
    expect(out.stdout).toContain(`command ${process.execPath}: exited with code 2`);
    expect(out.stdout + out.stderr).not.toContain(PASSWORD);
  });
});
