/**
 * Provider `dockerConfig`: the `auths` of a Docker `config.json` (what `docker login`, `podman
 * login` and `az acr login` write). Entries are matched by registry host in their usual
 * spellings — with or without scheme, with a /v1/ or /v2/ path, any case; Docker Hub's aliases
 * (docker.io, index.docker.io, registry-1.docker.io, registry.hub.docker.com) are one registry.
 * `auth` (base64 user:password), `username`/`password`, `identitytoken` (a refresh token, sent as
 * the password, as ACR expects) and `registrytoken` (bearer) are read. Credential helpers
 * (`credHelpers`, `credsStore`) are out of scope: they run programs authgate does not know —
 * use the `command` provider for those. Re-read when the file changes.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ProviderConfig } from '../config/upstream-auth-schema';
import { watchedFileProvider, type Credential, type CredentialProvider } from './credential';

type DockerConfigConfig = Extract<ProviderConfig, { type: 'dockerConfig' }>;

const DOCKER_HUB = new Set([
  'docker.io',
  'index.docker.io',
  'registry-1.docker.io',
  'registry.hub.docker.com',
]);

/** The registry host of an `auths` key or an upstream host: lower-case, no scheme, no path. */
export function registryKey(spelling: string): string {
  let s = spelling.trim().toLowerCase();
  s = s.replace(/^[a-z][a-z0-9+.-]*:\/\//, '');
  s = s.split('/')[0] ?? '';
  if (s.endsWith(':443')) s = s.slice(0, -4);
  return DOCKER_HUB.has(s) ? 'docker.io' : s;
}

interface AuthEntry {
  auth?: unknown;
  username?: unknown;
  password?: unknown;
  identitytoken?: unknown;
  registrytoken?: unknown;
}

/** The credential of one `auths` entry, or why it has none. */
export function credentialFromEntry(entry: AuthEntry): Credential | string {
  if (typeof entry.registrytoken === 'string' && entry.registrytoken !== '') {
    return { secret: entry.registrytoken, scheme: 'bearer' };
  }
  let username = typeof entry.username === 'string' ? entry.username : undefined;
  let password = typeof entry.password === 'string' ? entry.password : undefined;
  if (typeof entry.auth === 'string' && entry.auth !== '') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return 'its "auth" is not base64 of user:password';
    username = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  if (typeof entry.identitytoken === 'string' && entry.identitytoken !== '') {
    return {
      username: username || '00000000-0000-0000-0000-000000000000',
      secret: entry.identitytoken,
      scheme: 'basic',
    };
  }
  if (username === undefined || password === undefined || password === '') {
    return 'the entry has no auth, username/password, identitytoken or registrytoken';
  }
  return { username, secret: password, scheme: 'basic' };
}

interface DockerConfigFile {
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** Finds the registry's credential in a parsed config.json, or says why there is none. */
export function lookupDockerConfig(config: unknown, registry: string): Credential | string {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    return 'the file is not a JSON object';
  }
  const file = config as DockerConfigFile;
  const wanted = registryKey(registry);
  for (const [key, entry] of Object.entries(file.auths ?? {})) {
    if (registryKey(key) === wanted && entry !== null && typeof entry === 'object') {
      const result = credentialFromEntry(entry);
      return typeof result === 'string' ? `auths["${key}"]: ${result}` : result;
    }
  }
  const helper = Object.keys(file.credHelpers ?? {}).some((k) => registryKey(k) === wanted);
  if (helper || typeof file.credsStore === 'string') {
    return `no auths entry for ${wanted}; credential helpers (credHelpers, credsStore) are not supported: use the command provider`;
  }
  return `no auths entry for ${wanted}`;
}

export function defaultDockerConfigPath(env: NodeJS.ProcessEnv): string {
  const dir = env.DOCKER_CONFIG;
  return dir !== undefined && dir !== ''
    ? join(dir, 'config.json')
    : join(homedir(), '.docker', 'config.json');
}

export function dockerConfigProvider(
  config: DockerConfigConfig,
  env: NodeJS.ProcessEnv,
  upstreamHost: string,
): CredentialProvider {
  const path = config.path ?? defaultDockerConfigPath(env);
  const registry = config.registry ?? upstreamHost;
  const name = `dockerConfig ${path}`;
  return watchedFileProvider(
    name,
    path,
    (text) => {
      try {
        return lookupDockerConfig(JSON.parse(text), registry);
      } catch {
        return 'the file is not valid JSON';
      }
    },
    () => `${name} (${registryKey(registry)})`,
  );
}
