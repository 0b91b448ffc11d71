/**
 * Finds the credential a request carries, once, for every authenticator: a bearer token
 * (`Authorization: Bearer ...`) or an API key (the configured header, or a Bearer token with a
 * configured prefix). Values are never logged; only their presence is.
 */
import { AuthgateError } from '../errors';
import type { RawHeaders } from '../headers/hop-by-hop';

export interface Credentials {
  /** A bearer token that is not an API key (a JWT candidate). */
  bearer?: string;
  apiKey?: string;
  /** The scheme of a non-Bearer Authorization header (e.g. "basic"), for debug logs. */
  otherScheme?: string;
}

export interface CredentialRules {
  /** Lower-cased API-key header name, or undefined when API keys are off. */
  apiKeyHeader?: string;
  apiKeyPrefixes: readonly string[];
}

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** `access_token` in the query string is refused (RFC 6750 §2.3 is a leak path: logs, Referer). */
export function refuseQueryToken(search: string): void {
  if (search !== '' && /[?&]access_token=/.test(search)) {
    throw new AuthgateError('BAD_REQUEST', {
      message: 'Send the token in the Authorization header, not in the query string.',
      reason: 'query_token',
    });
  }
}

export function extractCredentials(raw: RawHeaders, rules: CredentialRules): Credentials {
  const found: Credentials = {};
  let apiKeyHeaders = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const lower = (raw[i] as string).toLowerCase();
    if (lower === 'authorization') {
      const value = raw[i + 1] as string;
      const m = BEARER.exec(value);
      if (!m) {
        found.otherScheme = value.split(' ', 1)[0]?.toLowerCase() ?? '';
        continue;
      }
      const token = m[1] as string;
      if (rules.apiKeyPrefixes.some((p) => token.startsWith(p))) found.apiKey = token;
      else found.bearer = token;
    } else if (lower === rules.apiKeyHeader) {
      apiKeyHeaders++;
      found.apiKey = raw[i + 1] as string;
    }
  }
  if (apiKeyHeaders > 1) {
    throw new AuthgateError('BAD_REQUEST', {
      message: 'Only one API key header is allowed.',
      reason: 'duplicate_api_key',
    });
  }
  return found;
}
