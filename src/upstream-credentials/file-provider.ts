/**
 * Provider `file`: a mounted secret (a Kubernetes Secret volume, a file a sidecar rotates). Its
 * content is the secret itself, or a JSON object {username?, password|token|secret,
 * expires_at?}. The file is stat'ed on every use and re-read when it changed (size, mtime, ctime
 * or inode — a Secret volume swaps a symlink), so a rotated credential needs no restart.
 */
import { readFile, stat } from 'node:fs/promises';
import type { Clock } from '../clock';
import type { ProviderConfig } from '../config/upstream-auth-schema';
import {
  defaultScheme,
  parseTokenAnswer,
  type Credential,
  type CredentialProvider,
  type ProviderResult,
} from './credential';

type FileConfig = Extract<ProviderConfig, { type: 'file' }>;

/** The file's content as a credential, or why it is none. */
export function credentialFromFile(
  text: string,
  config: { username?: string; scheme?: 'basic' | 'bearer' },
  now: number,
): Credential | string {
  const trimmed = text.trim();
  if (trimmed === '') return 'the file is empty';
  if (trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      return 'the file starts with "{" but is not valid JSON';
    }
    const answer = parseTokenAnswer(parsed, now);
    if (typeof answer === 'string') return answer;
    const username = config.username ?? answer.username;
    return {
      secret: answer.secret,
      scheme: defaultScheme(username, config.scheme),
      ...(username !== undefined ? { username } : {}),
      ...(answer.expiresAt !== undefined ? { expiresAt: answer.expiresAt } : {}),
    };
  }
  return {
    secret: trimmed,
    scheme: defaultScheme(config.username, config.scheme),
    ...(config.username !== undefined ? { username: config.username } : {}),
  };
}

export function fileProvider(config: FileConfig, clock: Clock): CredentialProvider {
  const name = `file ${config.path}`;
  let version = '';
  let cached: Credential | string = 'not read yet';
  return {
    name,
    async get(): Promise<ProviderResult> {
      try {
        const s = await stat(config.path);
        const v = `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
        if (v !== version) {
          cached = credentialFromFile(await readFile(config.path, 'utf8'), config, clock.now());
          version = v;
        }
      } catch (err) {
        version = '';
        const code = (err as NodeJS.ErrnoException).code ?? 'error';
        return { source: name, none: `cannot read the file (${code})` };
      }
      return typeof cached === 'string'
        ? { source: name, none: cached }
        : { source: name, credential: cached };
    },
  };
}
