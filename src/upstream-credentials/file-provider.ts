/**
 * Provider `file`: a mounted secret (a Kubernetes Secret volume, a file a sidecar rotates). Its
 * content is the secret itself, or a JSON object {username?, password|token|secret,
 * expires_at?}. The file is stat'ed on every use and re-read when it changed (size, mtime, ctime
 * or inode — a Secret volume swaps a symlink), so a rotated credential needs no restart.
 */
import type { Clock } from '../clock';
import type { ProviderConfig } from '../config/upstream-auth-schema';
import {
  defaultScheme,
  parseTokenAnswer,
  watchedFileProvider,
  type Credential,
  type CredentialProvider,
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
  return watchedFileProvider(`file ${config.path}`, config.path, (text) =>
    credentialFromFile(text, config, clock.now()),
  );
}
