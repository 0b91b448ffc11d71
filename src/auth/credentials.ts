/**
 * Finds the credential a request carries, once, for every authenticator: a bearer token
 * (`Authorization: Bearer ...`) or an API key (the configured header, or a Bearer token with a
 * configured prefix). Values are never logged; only their presence and the scheme name are.
 */
import { AuthgateError } from '../errors';
import type { RawHeaders } from '../headers/hop-by-hop';

export interface Credentials {
  /** A bearer token that is not an API key (a JWT candidate). */
  bearer?: string;
  apiKey?: string;
  /**
   * The Authorization scheme for logs: a registered scheme name, lower-cased, or "other".
   * Never taken from the value itself, so a scheme-less or comma-joined value cannot leak.
   */
  scheme?: string;
  /**
   * An Authorization header that is meant as a credential but cannot be used: a malformed
   * Bearer value ("Bearer x y", "Bearer,x"), or a token under another scheme or none
   * ("Basic <jwt>", a bare JWT). Rejected as `invalid_token` on authenticated routes.
   */
  malformed?: 'malformed_bearer' | 'wrong_scheme';
  /** The load balancer's signed identity (`x-amzn-oidc-data`), when ALB OIDC is configured. */
  alb?: true;
  /**
   * authgate's own session cookie, when browser sign-in is configured. Not counted as a
   * presented credential: a browser sends it on every request, and an ended session is no
   * failed authentication (it is answered like no credential: sign in again).
   */
  session?: string;
}

/**
 * Did the request present a credential of any kind? The one definition every stage reads
 * (through `RequestScope.presented`): the failed-auth guard, the upstream-credential decision,
 * the internal-hop rule and the audit line.
 */
export function credentialPresented(c: Credentials): boolean {
  return (
    c.bearer !== undefined || c.apiKey !== undefined || c.malformed !== undefined || c.alb === true
  );
}

export interface CredentialRules {
  /** Lower-cased API-key header name, or undefined when API keys are off. */
  apiKeyHeader?: string;
  apiKeyPrefixes: readonly string[];
  /** ALB OIDC is configured: `x-amzn-oidc-data` is a credential. */
  albOidc?: boolean;
  /** Browser sign-in is configured: this cookie names a session. */
  sessionCookie?: string;
}

/** RFC 6750 §2.1: `Bearer` 1*SP b64token, optional trailing whitespace. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)[ \t]*$/i;
const BEARER_SCHEME = /^bearer(?![A-Za-z0-9!#$%&'*+.^_`|~-])/i;
/** IANA HTTP authentication schemes (and a few common private ones) that may be logged by name. */
export const KNOWN_SCHEMES: ReadonlySet<string> = new Set([
  'basic',
  'digest',
  'negotiate',
  'ntlm',
  'token',
  'hoba',
  'mutual',
  'dpop',
  'gnap',
  'vapid',
  'privatetoken',
  'concealed',
  'scram-sha-1',
  'scram-sha-256',
  'aws4-hmac-sha256',
]);
const JWT_SHAPE = /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\./;

/** The query parameter names that carry a bearer token (RFC 6750 §2.3), compared decoded. */
const QUERY_TOKEN_NAMES: ReadonlySet<string> = new Set(['access_token']);

function decodeName(name: string): string {
  const plus = name.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(plus).toLowerCase();
  } catch {
    return plus.toLowerCase();
  }
}

/**
 * `access_token` in the query string is refused (RFC 6750 §2.3 is a leak path: logs, Referer),
 * however its name is spelled: percent-encoded (`access%5Ftoken`, `%61ccess_token`) or in
 * another case. `search` is the raw query including `?`.
 */
export function refuseQueryToken(search: string): void {
  if (search.length < 2) return;
  for (const part of search.slice(1).split(/[&;]/)) {
    const eq = part.indexOf('=');
    const name = eq === -1 ? part : part.slice(0, eq);
    if (name.length < 12) continue;
    if (QUERY_TOKEN_NAMES.has(decodeName(name))) {
      throw new AuthgateError('BAD_REQUEST', {
        message: 'Send the token in the Authorization header, not in the query string.',
        reason: 'query_token',
      });
    }
  }
}

function schemeOf(value: string): string {
  const m = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)(?: |$)/.exec(value);
  const name = m?.[1]?.toLowerCase();
  return name !== undefined && KNOWN_SCHEMES.has(name) ? name : 'other';
}

function ambiguous(): AuthgateError {
  return new AuthgateError('BAD_REQUEST', {
    message:
      'Send one credential: a bearer token, an API key or the load balancer identity, not two.',
    reason: 'ambiguous_credentials',
  });
}

/** The value of cookie `name` in one Cookie header, or undefined. */
function cookieValue(header: string, name: string): string | undefined {
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      return value === '' ? undefined : value;
    }
  }
  return undefined;
}

export function extractCredentials(raw: RawHeaders, rules: CredentialRules): Credentials {
  const found: Credentials = {};
  let headerKey: string | undefined;
  let apiKeyHeaders = 0;
  const looksLikeApiKey = (v: string): boolean => rules.apiKeyPrefixes.some((p) => v.includes(p));
  for (let i = 0; i < raw.length; i += 2) {
    const lower = (raw[i] as string).toLowerCase();
    if (lower === 'authorization') {
      const value = raw[i + 1] as string;
      const m = BEARER.exec(value);
      if (m) {
        found.scheme = 'bearer';
        const token = m[1] as string;
        if (rules.apiKeyPrefixes.some((p) => token.startsWith(p))) found.apiKey = token;
        else found.bearer = token;
      } else if (BEARER_SCHEME.test(value)) {
        found.scheme = 'bearer';
        found.malformed = 'malformed_bearer';
      } else {
        found.scheme = schemeOf(value);
        if (JWT_SHAPE.test(value) || looksLikeApiKey(value)) found.malformed = 'wrong_scheme';
      }
    } else if (lower === rules.apiKeyHeader) {
      apiKeyHeaders++;
      headerKey = raw[i + 1] as string;
    } else if (rules.albOidc === true && lower === 'x-amzn-oidc-data') {
      found.alb = true;
    } else if (
      rules.sessionCookie !== undefined &&
      lower === 'cookie' &&
      found.session === undefined
    ) {
      found.session = cookieValue(raw[i + 1] as string, rules.sessionCookie);
    }
  }
  if (apiKeyHeaders > 1) {
    throw new AuthgateError('BAD_REQUEST', {
      message: 'Only one API key header is allowed.',
      reason: 'duplicate_api_key',
    });
  }
  if (headerKey !== undefined) {
    // Two different credentials: whichever authgate checked, the upstream would see both.
    if (found.bearer !== undefined || found.malformed !== undefined) throw ambiguous();
    if (found.apiKey !== undefined && found.apiKey !== headerKey) throw ambiguous();
    found.apiKey = headerKey;
  }
  // The ALB's identity beside a token of the caller's own: whichever authgate checked, the
  // upstream would see the other one too.
  if (
    found.alb === true &&
    (found.bearer !== undefined || found.apiKey !== undefined || found.malformed !== undefined)
  )
    throw ambiguous();
  return found;
}

/** The 401 for an Authorization header that is not a usable credential. */
export function malformedCredentialError(): AuthgateError {
  return new AuthgateError('TOKEN_INVALID', {
    message: 'The Authorization header is not a valid "Bearer <token>" credential.',
    bearerError: 'invalid_token',
    reason: 'malformed_authorization',
  });
}
