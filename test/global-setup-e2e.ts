import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import buildCli from './global-setup';
import { startSharedMlflowServers } from './helpers/mlflow';

/**
 * The end-to-end tier runs the real, pinned MLflow: install it into its cached virtualenv (a
 * no-op when the pinned version is there already), build the CLI as the integration tier does,
 * and start the MLflow servers every MLflow test file shares (stopped by global-teardown-e2e).
 */
export default async function globalSetup(): Promise<void> {
  buildCli();
  const root = join(__dirname, '..');
  execFileSync('bash', [join(root, 'scripts/install-mlflow.sh')], { cwd: root, stdio: 'inherit' });
  const stop = await startSharedMlflowServers();
  (globalThis as { stopSharedMlflow?: () => Promise<void> }).stopSharedMlflow = stop;
}
