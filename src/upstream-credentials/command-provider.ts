/**
 * Provider `command`: runs a program (argv, never a shell) that prints a credential — e.g.
 * `az acr login --name N --expose-token --output json`. The answer is cached until
 * `refreshBeforeSec` before its expiry (or `cacheSec` when it has none); concurrent requests
 * share one run (single-flight); a failed run is remembered for a few seconds so a broken
 * command is not started for every request. Its output and stderr never reach a log or a
 * reason (they may hold the secret): a failure says only exit code, signal, timeout or format.
 */
import { execFile } from 'node:child_process';
import type { Clock } from '../clock';
import type { ProviderConfig } from '../config/upstream-auth-schema';
import {
  defaultScheme,
  parseTokenAnswer,
  renewingProvider,
  type Credential,
  type CredentialProvider,
} from './credential';

type CommandConfig = Extract<ProviderConfig, { type: 'command' }>;

const MAX_OUTPUT = 1024 * 1024;

function run(argv: readonly string[], timeoutMs: number, env: NodeJS.ProcessEnv): Promise<string> {
  const [file, ...args] = argv;
  return new Promise((resolve, reject) => {
    execFile(
      file as string,
      args,
      { timeout: timeoutMs, maxBuffer: MAX_OUTPUT, env, windowsHide: true, killSignal: 'SIGKILL' },
      (err, stdout) => {
        if (!err) return resolve(stdout);
        const e = err as NodeJS.ErrnoException & { killed?: boolean; signal?: string | null };
        if (e.killed && e.signal === 'SIGKILL')
          return reject(new Error(`timed out after ${timeoutMs} ms`));
        if (e.code === 'ENOENT') return reject(new Error(`${file} not found`));
        if (e.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER')
          return reject(new Error('printed too much'));
        if (typeof e.code === 'number') return reject(new Error(`exited with code ${e.code}`));
        if (e.signal) return reject(new Error(`killed by ${e.signal}`));
        reject(new Error(`could not run (${String(e.code ?? 'error')})`));
      },
    );
  });
}

/** The command's output as a credential, or why it is none. */
export function credentialFromOutput(
  stdout: string,
  config: Pick<CommandConfig, 'output' | 'username' | 'scheme' | 'cacheSec'>,
  now: number,
): Credential | string {
  const text = stdout.trim();
  if (text === '') return 'printed nothing';
  let secret: string;
  let username = config.username;
  let expiresAt: number | undefined;
  if (config.output === 'text') {
    secret = text;
  } else {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return 'printed no JSON (set output: text for a plain token)';
    }
    const answer = parseTokenAnswer(parsed, now);
    if (typeof answer === 'string') return answer;
    secret = answer.secret;
    username ??= answer.username;
    expiresAt = answer.expiresAt;
  }
  return {
    secret,
    scheme: defaultScheme(username, config.scheme),
    ...(username !== undefined ? { username } : {}),
    expiresAt: expiresAt ?? now + config.cacheSec * 1000,
  };
}

export function commandProvider(
  config: CommandConfig,
  clock: Clock,
  env: NodeJS.ProcessEnv,
  refreshBeforeMs: number,
): CredentialProvider {
  return renewingProvider(`command ${config.argv[0] ?? ''}`, clock, refreshBeforeMs, async () => {
    try {
      return credentialFromOutput(
        await run(config.argv, config.timeoutMs, env),
        config,
        clock.now(),
      );
    } catch (err) {
      return (err as Error).message;
    }
  });
}
