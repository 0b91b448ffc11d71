/**
 * The authgate-mlflow package (integrations/mlflow): it installs with pip from the repository
 * path, its installed copy imports, and its own pytest suite (real keys, a real JWKS server,
 * MLflow's permission store) passes.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../../helpers/process';
import { AUTHGATE_MLFLOW_SRC, MLFLOW_BIN, PYTHON } from '../../helpers/mlflow';

const run = promisify(execFile);
const PACKAGE = join(ROOT, 'integrations/mlflow');

jest.setTimeout(180_000);

test('pip installs it from the repository path, and the installed copy imports', async () => {
  const target = mkdtempSync(join(tmpdir(), 'authgate-mlflow-pip-'));
  // A copy of the folder: setuptools writes its build files next to the sources.
  const source = join(mkdtempSync(join(tmpdir(), 'authgate-mlflow-src-')), 'mlflow');
  cpSync(PACKAGE, source, { recursive: true });
  await run(
    join(MLFLOW_BIN, 'pip'),
    ['install', '--quiet', '--no-deps', '--no-build-isolation', '--target', target, source],
    { cwd: target },
  );
  const { stdout } = await run(
    PYTHON,
    [
      '-c',
      'import authgate_mlflow, os; print(authgate_mlflow.__version__, os.path.dirname(authgate_mlflow.__file__))',
    ],
    { env: { ...process.env, PYTHONPATH: target }, cwd: target },
  );
  expect(stdout.trim()).toBe(`0.1.0 ${join(target, 'authgate_mlflow')}`);
});

test('its pytest suite passes', async () => {
  const result = await run(PYTHON, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'tests'], {
    cwd: PACKAGE,
    env: { ...process.env, PYTHONPATH: AUTHGATE_MLFLOW_SRC, MLFLOW_AUTH_CONFIG_PATH: '' },
  }).catch((err: { stdout?: string; stderr?: string }) => {
    throw new Error(`pytest failed:\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
  });
  expect(result.stdout).toMatch(/\b\d+ passed\b/);
  expect(result.stdout).not.toMatch(/failed|error/i);
});
