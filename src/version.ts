import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The package version (from package.json beside dist/ or src/). */
export function authgateVersion(): string {
  try {
    return (
      JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }
    ).version;
  } catch {
    return 'unknown';
  }
}
