/**
 * The command line's arguments, as a newcomer types them: the README's space-separated list
 * (`--scopes a b`), repeated and comma forms, unknown flags and missing values named with exit 2
 * before anything is loaded or called, and `--help` listing every flag of every command.
 */
import { startAuthService, type AuthService } from '../../helpers/auth-service';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { parseConfig } from '../../../src/config/load';
import { ROOT, runCli, writeConfig } from '../../helpers/process';

const COMMANDS = ['serve', 'check-config', 'diagnose', 'token', 'api-key', 'session', 'smoke-test'];

describe('command-line arguments', () => {
  let service: AuthService;
  let file: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    service = await startAuthService();
    file = writeConfig({
      auth: {
        apiKeys: {
          prefixes: ['hok_live_'],
          validateUrl: service.url,
          adminUrl: service.adminUrl,
          hashSecret: 'cli-args-hash-secret-0123456789abcdef',
        },
      },
    });
    env = { AUTHGATE_ADMIN_TOKEN: service.adminToken };
  });
  afterAll(async () => {
    await service?.close();
  });

  test.each([
    ['space-separated (the README form)', ['--scopes', 'orders:read', 'orders:write']],
    ['repeated', ['--scopes', 'orders:read', '--scopes', 'orders:write']],
    ['comma-separated', ['--scopes', 'orders:read,orders:write']],
    ['with =', ['--scopes=orders:read', '--scopes=orders:write']],
  ])('api-key create takes a list %s', async (_form, scopes) => {
    const keys = [...service.keys.values()].length;
    const r = await runCli(
      ['api-key', 'create', '--name', 'ci-bot', ...scopes, '--config', file],
      env,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const records = [...service.keys.values()];
    expect(records.length).toBe(keys + 1);
    expect(records.at(-1)).toMatchObject({ scopes: ['orders:read', 'orders:write'] });
  });

  test.each<[string[], RegExp]>([
    [['api-key', 'create', '--bogus'], /authgate api-key: unknown option --bogus/],
    [['api-key', 'create', '--scopes', 'a'], /authgate api-key: --name is required/],
    [['api-key', 'create', '--name'], /authgate api-key: --name needs a value/],
    [['api-key', 'list', 'extra'], /authgate api-key: unexpected argument "extra"/],
    [['api-key', 'rotate'], /authgate api-key: unknown subcommand "rotate"/],
    [['serve', '--wokers', '2'], /authgate serve: unknown option --wokers/],
    [['serve', '--workers', 'many'], /authgate serve: --workers must be "auto" or a whole number/],
    [['check-config', '--config'], /authgate check-config: --config needs a value/],
    [['diagnose', '--jsn'], /authgate diagnose: unknown option --jsn/],
    [['session', 'list'], /authgate session: --user is required/],
    [['smoke-test', '--ur', 'x'], /authgate smoke-test: unknown option --ur/],
    [['token', 'mint', '--scopes', 'a'], /authgate token: unknown option --scopes/],
  ])('%j: exit 2 naming the problem, with the usage', async (args, message) => {
    // No config file exists here: a usage error is reported before anything is loaded.
    const r = await runCli(args, { AUTHGATE_CONFIG: '/nonexistent/authgate.yaml' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/usage:/);
    expect(r.stderr).not.toMatch(/TypeError|at .*\.js:\d+/);
  });

  test.each(COMMANDS)('%s --help lists every flag of its usage lines', async (command) => {
    const r = await runCli([command, '--help']);
    expect(r.code).toBe(0);
    const [usage, flags] = r.stdout.split('\nflags:\n');
    expect(flags).toBeDefined();
    const named = new Set([...(usage ?? '').matchAll(/--[a-z][a-z-]*/g)].map((m) => m[0]));
    expect(named.size).toBeGreaterThan(0);
    for (const flag of named) expect(flags).toContain(flag);
  });

  test('the general usage documents the exit codes', async () => {
    const r = await runCli(['--help']);
    expect(r.stdout).toMatch(/Exit codes: 0 done, 1 ran and failed .*2 usage error/s);
  });

  test("token mint's defaults are what the default config accepts (issuer, audience, scopes)", async () => {
    const minted = await runCli(['token', 'mint', '--secret-env', 'JWT_SECRET'], {
      JWT_SECRET: 'a-development-secret-of-at-least-32-bytes',
    });
    expect(minted.code).toBe(0);
    const decoded = await runCli(['token', 'decode', minted.stdout.trim()]);
    const claims = (JSON.parse(decoded.stdout) as { claims: Record<string, unknown> }).claims;
    // What config/authgate.yaml (what `npm start` serves) asks of a development token.
    const config = parseConfig(parse(readFileSync(join(ROOT, 'config/authgate.yaml'), 'utf8')), {
      JWT_SECRET: 'a-development-secret-of-at-least-32-bytes',
    });
    const issuer = config.auth.jwt.issuers[0]!;
    expect(claims).toMatchObject({ iss: issuer.issuer, aud: issuer.audience });
    const demo = config.routes.find((r) => r.name === 'api')!;
    const needed = Object.values(demo.scopes as Record<string, string[]>).flat();
    for (const scope of needed) expect(String(claims.scope).split(' ')).toContain(scope);
  });
});
