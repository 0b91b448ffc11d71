import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import buildCli from './global-setup';

/**
 * The end-to-end tier runs the real, pinned MLflow: install it into its cached virtualenv (a
 * no-op when the pinned version is there already), and build the CLI as the integration tier does.
 */
export default function globalSetup(): void {
  buildCli();
  const root = join(__dirname, '..');
  execFileSync('bash', [join(root, 'scripts/install-mlflow.sh')], { cwd: root, stdio: 'inherit' });
}
