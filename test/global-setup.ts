import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * Tests that start authgate as its own process run the compiled CLI: build it once per run (the
 * integration and end-to-end tiers both ask; the second asks for nothing).
 */
export default function globalSetup(): void {
  if (process.env.AUTHGATE_TEST_BUILT === '1') return;
  const root = join(__dirname, '..');
  execFileSync(
    process.execPath,
    [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    { cwd: root, stdio: 'inherit' },
  );
  process.env.AUTHGATE_TEST_BUILT = '1';
}
