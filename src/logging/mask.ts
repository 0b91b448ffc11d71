/**
 * Secret shapes that must never leave authgate in a log line or an error body. The logger and
 * the upstream-error mapper both scrub through here (one declared list, compiled once).
 */
import { hash } from 'node:crypto';

/** JWT / JWS / JWE compact forms: base64url JSON header ("eyJ") then dot-separated parts. */
const JWT_SHAPE = /eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}(?:\.[A-Za-z0-9_-]*){1,3}/g;
/** Bearer/Basic credentials in free text (e.g. an echoed Authorization header). */
const AUTH_SCHEME = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi;
const URL_USERINFO = /(\b[a-z][a-z0-9+.-]*:\/\/)[^/\s:@]+(?::[^/\s@]*)?@/gi;

/** A short correlatable stand-in: first 4 characters and a hash prefix, never the secret. */
export function fingerprint(secret: string): string {
  return `${secret.slice(0, 4)}…#${hash('sha256', secret, 'hex').slice(0, 8)}`;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export type Scrubber = (text: string) => string;

/** Compiles a scrubber for the given API-key prefixes. */
export function createScrubber(apiKeyPrefixes: readonly string[] = []): Scrubber {
  const apiKey =
    apiKeyPrefixes.length > 0
      ? new RegExp(`(?:${apiKeyPrefixes.map(escapeRegExp).join('|')})[A-Za-z0-9_-]+`, 'g')
      : undefined;
  return (text) => {
    let out = text.replace(AUTH_SCHEME, (_m, scheme: string) => `${scheme} [masked]`);
    out = out.replace(JWT_SHAPE, (m) => `[jwt ${fingerprint(m)}]`);
    if (apiKey) out = out.replace(apiKey, (m) => `[api-key ${fingerprint(m)}]`);
    return out.replace(URL_USERINFO, '$1[masked]@');
  };
}
