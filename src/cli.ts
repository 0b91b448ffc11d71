#!/usr/bin/env -S MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 node --max-semi-space-size=16 --max-old-space-size=1024
/**
 * authgate command line (docs/design.md#command-line): serve, check-config, diagnose, token decode|mint.
 */
import { runCli } from './cli/main';

runCli(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`authgate: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
