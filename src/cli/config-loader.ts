/**
 * The one config loader of the CLI: every subcommand resolves the file the same way (--config,
 * else $AUTHGATE_CONFIG, else config/authgate.yaml), checks it and the files it names (keys and
 * their strength, certificates) as `serve` reads them, and reports problems the same way — a
 * count, then one `path: reason` line each, on stderr; values are never printed.
 */
import {
  ConfigError,
  loadConfigFile,
  loadConfigText,
  resolveConfigPath,
  type ParseOptions,
} from '../config/load';
import { fileProblems } from '../config/files';
import type { Config } from '../config/schema';

export interface LoadedConfig {
  file: string;
  config: Readonly<Config>;
}

export function reportProblems(err: ConfigError, file: string): void {
  console.error(`authgate: ${file}: ${err.problems.length} problem(s)`);
  for (const p of err.problems) console.error(`  ${p.path || '(root)'}: ${p.reason}`);
}

/** The config, or undefined after reporting its problems (the caller exits 1). */
export function loadCliConfig(
  configFlag: string | undefined,
  options: ParseOptions = {},
): LoadedConfig | undefined {
  // The whole config in an environment variable (an ECS secret from SSM, say), unless a file
  // is named.
  const inline =
    configFlag === undefined && !process.env.AUTHGATE_CONFIG
      ? process.env.AUTHGATE_CONFIG_YAML
      : undefined;
  const file = inline !== undefined ? '$AUTHGATE_CONFIG_YAML' : resolveConfigPath(configFlag);
  try {
    const config =
      inline !== undefined
        ? loadConfigText(inline, file, process.env, options)
        : loadConfigFile(file, process.env, options);
    // The files it names, read as serve reads them: one verdict for every command.
    const problems = fileProblems(config);
    if (problems.length > 0) throw new ConfigError(file, problems);
    return { file, config };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    reportProblems(err, file);
    return undefined;
  }
}
