/**
 * Loads the YAML config: parse, interpolate `${VAR}` / `${VAR:-default}` in every string
 * (after parsing, so a variable can never inject YAML structure), apply the LOG_LEVEL, PORT, METRICS_PORT
 * and REDIS_URL overrides, validate with the schema collecting every problem, then freeze.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { checkInputOf, configProblems } from './checks';
import { closestKey, knownKeysAt } from './known-keys';
import { configSchema, type Config } from './schema';

export interface ConfigProblem {
  /** e.g. `routes[0].upstream` */
  path: string;
  reason: string;
}

export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];
  constructor(source: string, problems: ConfigProblem[]) {
    super(
      `invalid configuration (${source}):\n` +
        problems.map((p) => `  - ${p.path || '(root)'}: ${p.reason}`).join('\n'),
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export const DEFAULT_CONFIG_PATH = 'config/authgate.yaml';

export type PathSegment = string | number;

export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out;
}

const VAR = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Replaces `${VAR}` and `${VAR:-default}` in every string of `value`; unset variables are problems. */
export function interpolateEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  problems: ConfigProblem[],
  path: PathSegment[] = [],
): unknown {
  if (typeof value === 'string') {
    return value.replace(VAR, (_match, name: string, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      problems.push({ path: formatPath(path), reason: `environment variable ${name} is not set` });
      return '';
    });
  }
  if (Array.isArray(value)) {
    return value.map((v, i) => interpolateEnv(v, env, problems, [...path, i]));
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      out[k] = interpolateEnv(v, env, problems, [...path, k]);
    return out;
  }
  return value;
}

function section(raw: Record<string, unknown>, key: string): Record<string, unknown> {
  const existing = raw[key];
  if (existing !== null && typeof existing === 'object' && !Array.isArray(existing)) {
    return existing as Record<string, unknown>;
  }
  const created: Record<string, unknown> = {};
  raw[key] = created;
  return created;
}

/** LOG_LEVEL, PORT, METRICS_PORT and REDIS_URL win over the file (docs/design.md#configuration). */
export function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  if (env.LOG_LEVEL) section(raw, 'logging').level = env.LOG_LEVEL;
  if (env.PORT) section(raw, 'server').port = env.PORT;
  if (env.METRICS_PORT) section(raw, 'metrics').port = env.METRICS_PORT;
  if (env.REDIS_URL !== undefined) section(raw, 'redis').url = env.REDIS_URL;
  // An empty redis.url (e.g. `${REDIS_URL:-}`) means "no Redis".
  const redis = raw.redis as Record<string, unknown> | undefined;
  if (redis && redis.url === '') delete redis.url;
  const apiKeys = (raw.auth as Record<string, Record<string, unknown> | undefined> | undefined)
    ?.apiKeys;
  if (apiKeys && apiKeys.hashSecret === '') delete apiKeys.hashSecret;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function zodProblems(error: z.ZodError): ConfigProblem[] {
  return error.issues.flatMap((issue) => {
    const path = issue.path.filter((p): p is PathSegment => typeof p !== 'symbol');
    if (issue.code === 'invalid_type' && issue.message.endsWith('received undefined'))
      return [{ path: formatPath(path), reason: 'is required' }];
    if (issue.code !== 'unrecognized_keys')
      return [{ path: formatPath(path), reason: issue.message }];
    // One problem per unknown key, with the closest known key when one is near.
    const known = knownKeysAt(configSchema, path);
    return issue.keys.map((key) => {
      const near = closestKey(key, known);
      return {
        path: formatPath([...path, key]),
        reason: near ? `unknown key (did you mean "${near}"?)` : 'unknown key',
      };
    });
  });
}

/** Validates an already-parsed config object. Throws ConfigError listing every problem. */
export interface ParseOptions {
  /** `serve` needs a route to proxy; an embedded gate (only `authenticate()`) may have none. */
  requireRoutes?: boolean;
}

const parsedConfigs = new WeakSet<object>();

/** Was this object returned by parseConfig/loadConfigFile (validated, defaulted, frozen)? */
export function isParsedConfig(value: unknown): value is Readonly<Config> {
  return typeof value === 'object' && value !== null && parsedConfigs.has(value);
}

export function parseConfig(
  input: unknown,
  env: NodeJS.ProcessEnv = process.env,
  source = 'inline',
  options: ParseOptions = {},
): Readonly<Config> {
  const problems: ConfigProblem[] = [];
  const interpolated = interpolateEnv(input ?? {}, env, problems);
  if (interpolated === null || typeof interpolated !== 'object' || Array.isArray(interpolated)) {
    throw new ConfigError(source, [{ path: '', reason: 'must be a YAML mapping' }]);
  }
  const raw = interpolated as Record<string, unknown>;
  applyEnvOverrides(raw, env);
  const result = configSchema.safeParse(raw);
  if (!result.success) problems.push(...zodProblems(result.error));
  for (const p of configProblems(result.success ? result.data : checkInputOf(raw)))
    problems.push({ path: formatPath(p.path), reason: p.message });
  const routes = raw.routes;
  if ((options.requireRoutes ?? true) && (!Array.isArray(routes) || routes.length === 0))
    problems.push({ path: 'routes', reason: 'needs at least one route' });
  if (problems.length > 0 || !result.success) throw new ConfigError(source, problems);
  const config = deepFreeze(result.data);
  parsedConfigs.add(config);
  return config;
}

/** Resolves the config file: --config, else $AUTHGATE_CONFIG, else config/authgate.yaml. */
export function resolveConfigPath(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string {
  return flag ?? env.AUTHGATE_CONFIG ?? DEFAULT_CONFIG_PATH;
}

export function loadConfigFile(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
  options: ParseOptions = {},
): Readonly<Config> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'read error';
    throw new ConfigError(file, [{ path: '', reason: `cannot read file (${code})` }]);
  }
  return loadConfigText(text, file, env, options);
}

/** What a YAML error code means, in words (the parser's own message quotes the file). */
const YAML_MESSAGES: Readonly<Record<string, string>> = {
  BAD_INDENT: 'bad indentation',
  MISSING_CHAR: 'a closing bracket, brace or quote is missing',
  BLOCK_AS_IMPLICIT_KEY: 'a block value where a key was expected (a missing ":"?)',
  MULTILINE_IMPLICIT_KEY: 'a key runs over several lines (a missing ":" or quote?)',
  DUPLICATE_KEY: 'a key appears twice in the same mapping',
  UNEXPECTED_TOKEN: 'unexpected text (a tab, or a stray character?)',
  TAB_AS_INDENT: 'a tab used for indentation (use spaces)',
  BAD_DQ_ESCAPE: 'a bad escape in a double-quoted string',
  MISSING_ANCHOR: 'an alias to an anchor that does not exist',
  BLOCK_IN_FLOW: 'a block value inside [ ] or { }',
  IMPOSSIBLE: 'unreadable YAML',
};

/**
 * A config given as YAML text (a file's content, or $AUTHGATE_CONFIG_YAML). A YAML syntax
 * error is reported once, where the parser first stumbled, in words: the errors after it are
 * mostly the first one seen again.
 */
export function loadConfigText(
  text: string,
  source: string,
  env: NodeJS.ProcessEnv = process.env,
  options: ParseOptions = {},
): Readonly<Config> {
  // Only the position and the kind are reported: a YAML message quotes the text, which may
  // hold a secret.
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, lineCounter });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const at = lineCounter.linePos(first.pos[0]);
    const more = doc.errors.length - 1;
    throw new ConfigError(source, [
      {
        path: `line ${at.line}, column ${at.col}`,
        reason: `YAML: ${YAML_MESSAGES[first.code] ?? first.code.toLowerCase().replace(/_/g, ' ')} (${first.code})${more > 0 ? `; ${more} more error(s) after it, likely from this one` : ''}`,
      },
    ]);
  }
  return parseConfig(doc.toJS(), env, source, options);
}
