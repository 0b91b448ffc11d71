/**
 * Provider `oauth2ClientCredentials`: an OAuth2 client-credentials grant (RFC 6749 §4.4) at
 * `tokenUrl`, client authenticated with HTTP Basic (client_secret_basic) or with a client
 * assertion read from a file (RFC 7523; workload identity federation). The access token is a
 * bearer credential, cached until `refreshBeforeSec` before `expires_in` runs out; concurrent
 * requests share one token request.
 */
import { readFileSync } from 'node:fs';
import type { Clock } from '../clock';
import type { ProviderConfig } from '../config/upstream-auth-schema';
import { renewingProvider, type Credential, type CredentialProvider } from './credential';
import { outbound } from '../outbound';

type OAuth2Config = Extract<ProviderConfig, { type: 'oauth2ClientCredentials' }>;

const DEFAULT_LIFETIME_S = 300;

/** The reason of a failed outbound call, without its URL or any secret. */
export function noAnswer(err: unknown): string {
  const e = err as { name?: string; cause?: { code?: string } };
  if (e.name === 'TimeoutError') return 'no answer (timeout)';
  return `no answer (${e.cause?.code ?? e.name ?? 'error'})`;
}

export function oauth2Provider(
  config: OAuth2Config,
  clock: Clock,
  refreshBeforeMs: number,
): CredentialProvider {
  const name = `oauth2ClientCredentials ${new URL(config.tokenUrl).host}`;
  const basic =
    config.clientSecret === undefined
      ? undefined
      : Buffer.from(
          `${encodeURIComponent(config.clientId)}:${encodeURIComponent(config.clientSecret)}`,
        ).toString('base64');

  /** The client authentication of one token request: Basic, or the assertion as it is now. */
  function clientAuth(form: URLSearchParams): Record<string, string> | string {
    if (basic !== undefined) return { Authorization: `Basic ${basic}` };
    let assertion: string;
    try {
      // Read every time: a projected service-account token is rotated in place.
      assertion = readFileSync(config.clientAssertionFile as string, 'utf8').trim();
    } catch (err) {
      return `the client assertion file cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
    }
    if (assertion === '') return 'the client assertion file is empty';
    form.set('client_id', config.clientId);
    form.set('client_assertion_type', config.clientAssertionType);
    form.set('client_assertion', assertion);
    return {};
  }

  async function fetchToken(): Promise<Credential | string> {
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    const auth = clientAuth(form);
    if (typeof auth === 'string') return auth;
    if (config.scope !== undefined) form.set('scope', config.scope);
    if (config.audience !== undefined) form.set('audience', config.audience);
    let res: Response;
    try {
      res = await outbound(config.tokenUrl, {
        span: 'oauth2 token',
        method: 'POST',
        headers: {
          ...auth,
          'Content-Type': 'application/x-www-form-urlencoded',
          Accept: 'application/json',
        },
        body: form.toString(),
        timeoutMs: config.timeoutMs,
      });
    } catch (err) {
      return noAnswer(err);
    }
    let body: unknown;
    try {
      body = await res.json();
    } catch {
      return `the token endpoint answered ${res.status} without JSON`;
    }
    if (res.status !== 200) return `the token endpoint answered ${res.status}`;
    const obj = (body ?? {}) as Record<string, unknown>;
    if (typeof obj.access_token !== 'string' || obj.access_token === '') {
      return 'the token endpoint answered without access_token';
    }
    const expiresIn = Number(obj.expires_in);
    const lifetime = Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : DEFAULT_LIFETIME_S;
    return { secret: obj.access_token, scheme: 'bearer', expiresAt: clock.now() + lifetime * 1000 };
  }

  return renewingProvider(name, clock, refreshBeforeMs, fetchToken);
}
