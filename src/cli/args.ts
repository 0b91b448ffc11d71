/**
 * The command line's one argument parser: node's `parseArgs` (strict), with what people type
 * that it does not take by itself —
 * - list flags in every form: `--scopes a b`, `--scopes a --scopes b`, `--scopes a,b`;
 * - usage errors as a `UsageError` naming the flag ("unknown option --bogus", "--name needs a
 *   value"), which the entry point prints with the command's usage and exit code 2.
 * Exit codes of every command: 0 done, 1 it ran and failed (a check, a refused call, a config
 * with problems), 2 a usage error (docs/design.md, "Command line").
 */
import { parseArgs } from 'node:util';

/** A command line that cannot be run as typed. */
export class UsageError extends Error {}

export interface FlagSpec {
  type: 'string' | 'boolean';
  /** A list flag: repeated, space-separated after the flag, or comma-separated. */
  list?: boolean;
  default?: string | boolean;
}

type Value<F extends FlagSpec> = F['list'] extends true
  ? string[]
  : F['type'] extends 'boolean'
    ? boolean
    : string;

export type Parsed<O extends Record<string, FlagSpec>> = {
  values: {
    [K in keyof O]: O[K] extends { default: string | boolean }
      ? Value<O[K]>
      : Value<O[K]> | undefined;
  };
  positionals: string[];
};

const MESSAGES: Array<[RegExp, (m: RegExpExecArray) => string]> = [
  [/Unknown option '([^']+)'/, (m) => `unknown option ${m[1]}`],
  [/Option '([^']+?)(?: <value>)?' argument missing/, (m) => `${m[1]} needs a value`],
  [
    /Unexpected argument '([^']+)'/,
    (m) => `unexpected argument "${m[1]}" (values go after their flag)`,
  ],
  [/Option '([^']+?)' does not take an argument/, (m) => `${m[1]} takes no value`],
];

function usageMessage(err: Error): string {
  for (const [re, text] of MESSAGES) {
    const m = re.exec(err.message);
    if (m) return text(m);
  }
  return err.message.split('\n')[0] ?? 'bad arguments';
}

/**
 * Parses `args` against `options`; `positionals` says how many bare arguments the command takes
 * (others are an error). Throws UsageError.
 */
export function parseFlags<O extends Record<string, FlagSpec>>(
  args: readonly string[],
  options: O,
  positionals = 0,
): Parsed<O> {
  // `--scopes a b`: the words after a list flag, up to the next flag, are its values.
  const expanded: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    expanded.push(arg);
    const name = arg.startsWith('--') ? arg.slice(2).split('=')[0] : undefined;
    const spec = name === undefined ? undefined : options[name];
    if (!spec?.list || arg.includes('=')) continue;
    if (i + 1 < args.length) expanded.push(args[++i] as string);
    while (i + 1 < args.length && !(args[i + 1] as string).startsWith('-')) {
      expanded.push(arg, args[++i] as string);
    }
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: expanded,
      allowPositionals: positionals > 0,
      options: Object.fromEntries(
        Object.entries(options).map(([k, v]) => [
          k,
          {
            type: v.type,
            ...(v.list ? { multiple: true } : {}),
            ...(v.default !== undefined ? { default: v.default } : {}),
          },
        ]),
      ) as Parameters<typeof parseArgs>[0] extends { options?: infer X } ? X : never,
    });
  } catch (err) {
    throw new UsageError(usageMessage(err as Error));
  }
  if (parsed.positionals.length > positionals) {
    throw new UsageError(`unexpected argument "${parsed.positionals[positionals]}"`);
  }
  const values = parsed.values as Record<string, unknown>;
  for (const [k, v] of Object.entries(options)) {
    if (v.list && Array.isArray(values[k]))
      values[k] = (values[k] as string[]).flatMap((s) => s.split(',')).filter((s) => s !== '');
  }
  return { values, positionals: parsed.positionals } as Parsed<O>;
}
