import { writeFileSync } from 'node:fs';
import { runCli, writeConfig } from '../helpers/process';

describe('authgate check-config', () => {
  it('exits 0 on the default config with its variables set', async () => {
    const r = await runCli(['check-config'], { JWT_SECRET: 'x'.repeat(40) });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('OK');
  });

  it('lists every problem at once, with paths, and never prints a secret', async () => {
    const file = writeConfig({
      server: { port: 70000, trustedProxies: ['10.0.0.0/33', 'not-an-ip'], shutdownGrace: 5 },
      logging: { level: 'verbose' },
      auth: {
        jwt: {
          issuers: [
            { issuer: 'a', algorithms: ['HS256', 'RS256'], secret: 'short-secret-value' },
            { issuer: 'b', algorithms: ['none'], jwksUri: 'ftp://x' },
          ],
        },
      },
      routes: [
        { name: 'Bad Name', prefix: 'no-slash', upstream: 'http://user:hunter2@up:80' },
        { name: 'dup', prefix: '/a', upstream: 'http://up', auth: 'sometimes' },
        {
          name: 'dup',
          prefix: '/a',
          upstream: 'http://up',
          scopes: { get: ['x'] },
          timeouts: { connectMs: -1 },
        },
      ],
    });
    const r = await runCli(['check-config', '--config', file]);
    expect(r.code).toBe(1);
    const expected = [
      'server.port',
      'server.trustedProxies[0]',
      'server.trustedProxies[1]',
      'server.shutdownGrace: unknown key (did you mean "shutdownGraceMs"?)',
      'logging.level',
      'auth.jwt.issuers[0].algorithms',
      'auth.jwt.issuers[0].secret',
      'auth.jwt.issuers[1].algorithms[0]',
      'auth.jwt.issuers[1].jwksUri',
      'routes[0].name',
      'routes[0].prefix',
      'routes[0].upstream',
      'routes[1].auth',
      'routes[2].name',
      'routes[2].prefix',
      'routes[2].scopes.get',
      'routes[2].timeouts.connectMs',
    ];
    for (const path of expected) expect(r.stderr).toContain(path);
    expect(r.stderr).toMatch(/shutdownGrace/);
    expect(r.stderr).not.toContain('hunter2');
    expect(r.stderr).not.toContain('short-secret-value');
    expect(r.stderr).toMatch(/(\d+) problem\(s\)/);
    expect(Number(/(\d+) problem\(s\)/.exec(r.stderr)![1])).toBeGreaterThanOrEqual(expected.length);
  });

  it('reports an unset ${VAR} with its path, and YAML syntax errors', async () => {
    const file = writeConfig({
      routes: [{ name: 'a', prefix: '/', upstream: '${UPSTREAM_URL}', auth: 'none' }],
    });
    const r = await runCli(['check-config', '--config', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('routes[0].upstream: environment variable UPSTREAM_URL is not set');

    writeFileSync(file, 'routes: [\n  - name: x\n bad');
    const y = await runCli(['check-config', '--config', file]);
    expect(y.code).toBe(1);
    expect(y.stderr).toContain('YAML');
  });

  it('honours $AUTHGATE_CONFIG and reports a missing file', async () => {
    const r = await runCli(['check-config'], { AUTHGATE_CONFIG: '/nonexistent/authgate.yaml' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('/nonexistent/authgate.yaml');
    expect(r.stderr).toContain('ENOENT');
  });
});
