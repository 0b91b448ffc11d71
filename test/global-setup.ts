import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** Tests that start authgate as its own process run the compiled CLI: build it once. */
export default function globalSetup(): void {
  const root = join(__dirname, '..');
  execFileSync(
    process.execPath,
    [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    { cwd: root, stdio: 'inherit' },
  );
}
