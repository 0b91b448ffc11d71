import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * Tests that start authgate as its own process run the compiled CLI: build it once. The MLflow
 * tests run the real, pinned MLflow: install it into its cached virtualenv (a no-op when the
 * pinned version is there already).
 */
export default function globalSetup(): void {
  const root = join(__dirname, '..');
  execFileSync(
    process.execPath,
    [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
  execFileSync('bash', [join(root, 'scripts/install-mlflow.sh')], { cwd: root, stdio: 'inherit' });
}
