/**
 * Provider `oauth2ClientCredentials`: an OAuth2 client-credentials grant (RFC 6749 §4.4) at
 * `tokenUrl`, client authenticated with HTTP Basic (client_secret_basic). The access token is a
 * bearer credential, cached until `refreshBeforeSec` before `expires_in` runs out; concurrent
 * requests share one token request.
 */
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
  const basic = Buffer.from(
    `${encodeURIComponent(config.clientId)}:${encodeURIComponent(config.clientSecret)}`,
  ).toString('base64');

  async function fetchToken(): Promise<Credential | string> {
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (config.scope !== undefined) form.set('scope', config.scope);
    if (config.audience !== undefined) form.set('audience', config.audience);
    let res: Response;
    try {
      res = await outbound(config.tokenUrl, {
        span: 'oauth2 token',
        method: 'POST',
        headers: {
          Authorization: `Basic ${basic}`,
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
