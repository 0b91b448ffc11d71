/**
 * Before, `main` pointed at a dist/index.js that was never built and no types were
 * emitted. Now `npm pack`, installed into an empty folder, gives `require('authgate')`,
 * `import { createAuthgate } from 'authgate'` with types, and the README's Express example
 * answers through it.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../helpers/process';

jest.setTimeout(180_000);

/** tsc in `cwd`; its errors (on stdout) in the failure. */
function tsc(cwd: string, project: string): void {
  try {
    execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', project], {
      cwd,
      encoding: 'utf8',
    });
  } catch (err) {
    throw new Error(`tsc failed:\n${(err as { stdout?: string }).stdout ?? ''}`, { cause: err });
  }
}

const npm = (args: string[], cwd: string): string =>
  execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });

describe('the packed package, installed into an empty folder', () => {
  let app: string;

  beforeAll(() => {
    const packDir = mkdtempSync(join(tmpdir(), 'authgate-pack-'));
    npm(['pack', '--pack-destination', packDir], ROOT);
    const tarball = readdirSync(packDir).find((f) => f.endsWith('.tgz'))!;
    app = mkdtempSync(join(tmpdir(), 'authgate-consumer-'));
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
    // Dependencies come from the npm cache this checkout was installed from.
    npm(
      ['install', '--prefer-offline', join(packDir, tarball), join(ROOT, 'node_modules/express')],
      app,
    );
  });

  it('ships the CLI executable and no sources or tests', () => {
    const dist = join(app, 'node_modules/authgate/dist');
    expect(statSync(join(dist, 'cli.js')).mode & 0o111).not.toBe(0);
    expect(statSync(join(dist, 'index.d.ts')).isFile()).toBe(true);
    expect(() => statSync(join(app, 'node_modules/authgate/src'))).toThrow();
    expect(() => statSync(join(app, 'node_modules/authgate/test'))).toThrow();
  });

  it("require('authgate') and import … from 'authgate' give the same API", () => {
    writeFileSync(
      join(app, 'check.mjs'),
      [
        "import { createAuthgate, loadConfig, AuthgateError } from 'authgate';",
        "import cjs from 'authgate';",
        "const req = (await import('node:module')).createRequire(import.meta.url)('authgate');",
        'console.log(JSON.stringify({',
        '  esm: [typeof createAuthgate, typeof loadConfig, typeof AuthgateError],',
        '  same: cjs.createAuthgate === createAuthgate && req.createAuthgate === createAuthgate,',
        "  code: new AuthgateError('TOKEN_EXPIRED').status,",
        '}));',
      ].join('\n'),
    );
    const out = JSON.parse(
      execFileSync(process.execPath, ['check.mjs'], { cwd: app, encoding: 'utf8' }),
    );
    expect(out).toEqual({ esm: ['function', 'function', 'function'], same: true, code: 401 });
  });

  it('the types check in a strict TypeScript consumer', () => {
    writeFileSync(
      join(app, 'consumer.ts'),
      [
        "import { createAuthgate, type Authgate, type Principal, AuthgateError } from 'authgate';",
        'async function main(): Promise<void> {',
        '  const gate: Authgate = await createAuthgate({ routes: [] });',
        "  const mw = gate.authenticate({ scopes: ['reports:read'] });",
        '  const p: Principal | undefined = undefined;',
        "  const e = new AuthgateError('RATE_LIMITED');",
        '  void mw; void p; void e.status;',
        '  await gate.close();',
        '}',
        'void main();',
      ].join('\n'),
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          // Only @types/node, as any Node consumer has it: the published types need nothing else
          // (no skipLibCheck, no @types package of authgate's own dependencies).
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules/@types')],
          skipLibCheck: false,
        },
        files: ['consumer.ts'],
      }),
    );
    tsc(app, 'tsconfig.json');
  });

  it("the README's library example type-checks under strict TypeScript (no skipLibCheck)", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## As a library'));
    const code = /```ts\n([\s\S]*?)```/.exec(section)![1]!;
    writeFileSync(join(app, 'readme.mts'), code);
    const types = (p: string) => join(ROOT, 'node_modules', p);
    writeFileSync(
      join(app, 'tsconfig.readme.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          types: ['node'],
          typeRoots: [types('@types')],
          skipLibCheck: false,
          // Express's and http-proxy-middleware's types from this checkout (authgate's own come
          // from the installed tarball).
          paths: {
            express: [types('@types/express/index.d.ts')],
            'http-proxy-middleware': [types('http-proxy-middleware/dist/index.d.ts')],
          },
        },
        files: ['readme.mts'],
      }),
    );
    tsc(app, 'tsconfig.readme.json');
  });

  it('ships what the README tells users to run: docs/, the alert rules and dashboard scripts, the deploy files', () => {
    const pkg = join(app, 'node_modules/authgate');
    for (const f of [
      'docs/configuration.md',
      'docs/alerts.md',
      'scripts/alert-rules.js',
      'scripts/grafana-dashboard.js',
      'deploy/kubernetes/deployment.yaml',
      'config/authgate.yaml',
      'integrations/mlflow/pyproject.toml',
    ])
      expect(statSync(join(pkg, f)).isFile()).toBe(true);
    const out = execFileSync(
      process.execPath,
      [
        join(pkg, 'scripts/alert-rules.js'),
        '--job',
        'authgate',
        '--runbook-base',
        'https://x/alerts.md',
      ],
      { cwd: app, encoding: 'utf8' },
    );
    expect(out).toMatch(/alert: AuthgateRedisDown/);
  });

  it('`authgate serve --demo` starts from any folder (the packaged demo config)', async () => {
    const child = spawn(
      process.execPath,
      [join(app, 'node_modules/authgate/dist/cli.js'), 'serve', '--demo'],
      {
        cwd: app,
        env: { PATH: process.env.PATH, PORT: '0', METRICS_PORT: '0' },
      },
    );
    try {
      const listening = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('"message":"listening"')) resolve(out);
        });
        child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
      });
      expect(listening).toMatch(/node_modules\/authgate\/config\/authgate\.yaml/);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it("the README's Express example answers through the installed package", async () => {
    writeFileSync(
      join(app, 'server.cjs'),
      [
        "const express = require('express');",
        "const { createAuthgate } = require('authgate');",
        '(async () => {',
        '  const gate = await createAuthgate({',
        "    auth: { jwt: { issuers: [{ issuer: 'dev', algorithms: ['HS256'], secret: 'readme-example-secret-0123456789ab' }] } },",
        '    routes: [],',
        "    logging: { level: 'error' },",
        '  });',
        '  const app = express();',
        '  app.use(gate.express());',
        "  app.get('/own', gate.authenticate({ scopes: ['reports:read'] }), (req, res) => res.json({ user: req.authgate.principal.userId }));",
        "  const server = app.listen(0, '127.0.0.1', async () => {",
        '    const url = `http://127.0.0.1:${server.address().port}/own`;',
        '    const denied = await fetch(url);',
        "    const jwt = require(require.resolve('jsonwebtoken', { paths: [require.resolve('authgate')] }));",
        "    const token = jwt.sign({ sub: 'ann', iss: 'dev', scope: 'reports:read' }, 'readme-example-secret-0123456789ab', { expiresIn: 60 });",
        '    const allowed = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });',
        '    console.log(JSON.stringify({ denied: [denied.status, (await denied.json()).error_code], allowed: [allowed.status, await allowed.json()] }));',
        '    server.close(); await gate.close();',
        '  });',
        '})();',
      ].join('\n'),
    );
    const out = JSON.parse(
      execFileSync(process.execPath, ['server.cjs'], { cwd: app, encoding: 'utf8' }),
    );
    expect(out).toEqual({ denied: [401, 'AUTH_REQUIRED'], allowed: [200, { user: 'ann' }] });
  });
});
