import { readFile, stat } from 'node:fs/promises';

/**
 * The credential authgate sends to an upstream in its own name (docs/design.md#upstream-credentials), the provider
 * interface every source implements, and the one parser of token-shaped answers (a command's
 * JSON output, a mounted secret file, an OAuth2 token response).
 */

export interface Credential {
  username?: string;
  secret: string;
  scheme: 'basic' | 'bearer';
  /** epoch ms, when the source says */
  expiresAt?: number;
}

/** What a provider yields: a credential, or why it has none (the chain then moves on). */
export type ProviderResult =
  | { readonly credential: Credential; readonly source: string }
  | { readonly none: string; readonly source: string };

export interface CredentialProvider {
  /** What diagnose and logs call it (never a secret): "env REGISTRY_USERNAME", "file /run/x". */
  readonly name: string;
  get(): Promise<ProviderResult>;
}

/** The value of an `Authorization` header for a credential. */
export function authorizationValue(c: Credential): string {
  if (c.scheme === 'bearer') return `Bearer ${c.secret}`;
  return `Basic ${Buffer.from(`${c.username ?? ''}:${c.secret}`, 'utf8').toString('base64')}`;
}

/** Basic when there is a user name, else bearer — unless the config says. */
export function defaultScheme(
  username: string | undefined,
  configured: 'basic' | 'bearer' | undefined,
): 'basic' | 'bearer' {
  return configured ?? (username !== undefined ? 'basic' : 'bearer');
}

const SECRET_FIELDS = [
  'accessToken',
  'access_token',
  'token',
  'password',
  'secret',
  'refreshToken',
  'refresh_token',
] as const;
const EXPIRY_FIELDS = ['expiresOn', 'expires_on', 'expiresAt', 'expires_at'] as const;

/** An expiry given as epoch seconds, epoch ms, or a date string; undefined when unreadable. */
export function parseExpiry(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) {
    return value > 1e12 ? value : value * 1000;
  }
  if (typeof value === 'string' && value.trim() !== '') {
    if (/^\d+(\.\d+)?$/.test(value.trim())) return parseExpiry(Number(value.trim()));
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

export interface TokenAnswer {
  secret: string;
  username?: string;
  expiresAt?: number;
}

/**
 * Reads a token-shaped JSON object: the secret from accessToken | access_token | token |
 * password | secret (first present), the user name from `username`, the expiry from
 * `expires_in` (seconds from `now`) or expiresOn | expires_on | expiresAt | expires_at.
 * Returns a reason string when the object has no usable secret.
 */
export function parseTokenAnswer(value: unknown, now: number): TokenAnswer | string {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return 'the answer is not a JSON object';
  }
  const obj = value as Record<string, unknown>;
  const field = SECRET_FIELDS.find((f) => typeof obj[f] === 'string' && obj[f] !== '');
  if (field === undefined) return `the answer has none of ${SECRET_FIELDS.join(', ')}`;
  const answer: TokenAnswer = { secret: obj[field] as string };
  if (typeof obj.username === 'string' && obj.username !== '') answer.username = obj.username;
  const expiresIn = obj.expires_in ?? obj.expiresIn;
  if (typeof expiresIn === 'number' || typeof expiresIn === 'string') {
    const seconds = Number(expiresIn);
    if (Number.isFinite(seconds) && seconds > 0) answer.expiresAt = now + seconds * 1000;
  }
  if (answer.expiresAt === undefined) {
    for (const f of EXPIRY_FIELDS) {
      const at = parseExpiry(obj[f]);
      if (at !== undefined) {
        answer.expiresAt = at;
        break;
      }
    }
  }
  return answer;
}

/**
 * When to renew something that expires at `expiresAt` (fetched at `now`): `refreshBeforeMs`
 * ahead, but never earlier than half its lifetime, so a short-lived token is still reused.
 */
export function refreshTime(
  expiresAt: number | undefined,
  now: number,
  refreshBeforeMs: number,
): number {
  if (expiresAt === undefined) return Number.POSITIVE_INFINITY;
  return expiresAt - Math.min(refreshBeforeMs, Math.max(0, (expiresAt - now) / 2));
}

/** How long a failed fetch is remembered before the next request tries again. */
export const FAILURE_BACKOFF_MS = 5_000;

/**
 * A provider whose credential is fetched (a command, a token endpoint) and reused: until
 * `refreshBeforeMs` before it expires; one fetch for a burst of requests (single-flight); a
 * failure remembered for FAILURE_BACKOFF_MS; a renewal that fails before the old credential
 * expired keeps the old one meanwhile. `fetch` returns the credential or why there is none.
 */
export function renewingProvider(
  name: string,
  clock: { now(): number },
  refreshBeforeMs: number,
  fetch: () => Promise<Credential | string>,
): CredentialProvider {
  const flight = new SingleFlight<Credential | string>();
  let cached: { credential: Credential; refreshAt: number } | undefined;
  let failed: { reason: string; until: number } | undefined;
  const stillValid = (now: number): Credential | undefined => {
    const old = cached?.credential;
    return old && (old.expiresAt ?? 0) > now ? old : undefined;
  };
  return {
    name,
    async get(): Promise<ProviderResult> {
      const now = clock.now();
      if (cached && cached.refreshAt > now) return { source: name, credential: cached.credential };
      if (failed && failed.until > now) {
        const old = stillValid(now);
        return old ? { source: name, credential: old } : { source: name, none: failed.reason };
      }
      const result = await flight.run(fetch);
      const after = clock.now();
      if (typeof result === 'string') {
        failed = { reason: result, until: after + FAILURE_BACKOFF_MS };
        const old = stillValid(after);
        if (old) return { source: name, credential: old };
        cached = undefined;
        return { source: name, none: result };
      }
      failed = undefined;
      cached = {
        credential: result,
        refreshAt: refreshTime(result.expiresAt, after, refreshBeforeMs),
      };
      return { source: name, credential: result };
    },
  };
}

/**
 * A file read again only when it changed (inode, size, mtime or ctime: a Kubernetes Secret
 * volume swaps a symlink); `parse` turns its text into a credential or a reason.
 */
export function watchedFileProvider(
  name: string,
  path: string,
  parse: (text: string) => Credential | string,
  source: (credential: Credential) => string = () => name,
): CredentialProvider {
  let version = '';
  let cached: Credential | string = 'not read yet';
  return {
    name,
    async get(): Promise<ProviderResult> {
      try {
        const s = await stat(path);
        const v = `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
        if (v !== version) {
          cached = parse(await readFile(path, 'utf8'));
          version = v;
        }
      } catch (err) {
        version = '';
        const code = (err as NodeJS.ErrnoException).code ?? 'error';
        return { source: name, none: `cannot read the file (${code})` };
      }
      return typeof cached === 'string'
        ? { source: name, none: cached }
        : { source: source(cached), credential: cached };
    },
  };
}

/**
 * Runs `load` once for any number of concurrent callers (single-flight): a burst of requests
 * waiting for the same credential starts one command or one token request.
 */
export class SingleFlight<T> {
  private pending: Promise<T> | undefined;
  run(load: () => Promise<T>): Promise<T> {
    if (this.pending) return this.pending;
    const p = load().finally(() => {
      if (this.pending === p) this.pending = undefined;
    });
    this.pending = p;
    return p;
  }
}
