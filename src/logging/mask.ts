/**
 * Masking, declared once and applied at the logger (cf. pino's redaction): sensitive header
 * names, sensitive query/field names, URL userinfo, and secret *shapes* (JWTs, configured
 * API-key prefixes, Bearer/Basic credentials) anywhere in a string — messages, error texts,
 * stacks, library errors (ioredis `command.args`). It copies, never mutating the caller's
 * objects. A masked value keeps a short fingerprint (first 4 characters + hash prefix) so
 * operators can correlate without the secret.
 */
import { hash } from 'node:crypto';

export const SENSITIVE_HEADERS: readonly string[] = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
];

export const SENSITIVE_QUERY_PARAMS: readonly string[] = [
  'access_token',
  'token',
  'id_token',
  'refresh_token',
  'api_key',
  'apikey',
  'key',
  'code',
  'client_secret',
  'password',
  'signature',
];

/** Field names whose values are secrets wherever they appear in a logged object. */
const SENSITIVE_FIELDS = [
  'secret',
  'hashsecret',
  'bearertoken',
  'passwd',
  'private_key',
  'api_key',
  'password',
  'token',
];

export interface MaskRules {
  headers?: readonly string[];
  queryParams?: readonly string[];
  apiKeyPrefixes?: readonly string[];
}

/**
 * A short correlatable stand-in: a hash prefix, after the first 4 characters only when the
 * secret is long enough (>= 16) that they give nothing away. Never the secret.
 */
export function fingerprint(secret: string): string {
  const head = secret.length >= 16 ? secret.slice(0, 4) : '';
  return `${head}…#${hash('sha256', secret, 'hex').slice(0, 8)}`;
}

const masked = (value: string): string => `[masked ${fingerprint(value)}]`;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export type Scrubber = (text: string) => string;

/** Compiles the string scrubber: secret shapes, credentials in URLs and query strings. */
export function createScrubber(
  apiKeyPrefixes: readonly string[] = [],
  queryParams: readonly string[] = [],
): Scrubber {
  const jwtShape = /eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}(?:\.[A-Za-z0-9_-]*){1,3}/g;
  const authScheme = /\b(Bearer|Basic|Digest|Negotiate)\s+([A-Za-z0-9._~+/=-]{6,})/gi;
  const userinfo = /(\b[a-z][a-z0-9+.-]*:\/\/)([^/\s@]+)@/gi;
  const params = [...SENSITIVE_QUERY_PARAMS, ...queryParams].map(escapeRegExp).join('|');
  const query = new RegExp(`([?&;](?:${params})=)([^&\\s#"']+)`, 'gi');
  const apiKey =
    apiKeyPrefixes.length > 0
      ? new RegExp(`(?:${apiKeyPrefixes.map(escapeRegExp).join('|')})[A-Za-z0-9_-]+`, 'g')
      : undefined;
  return (text) => {
    let out = text.replace(jwtShape, (m) => masked(m));
    if (apiKey) out = out.replace(apiKey, (m) => masked(m));
    out = out.replace(authScheme, (_m, scheme: string, cred: string) =>
      cred.startsWith('[masked') ? `${scheme} ${cred}` : `${scheme} ${masked(cred)}`,
    );
    out = out.replace(query, (_m, head: string, value: string) =>
      value.startsWith('[masked') ? head + value : head + masked(value),
    );
    return out.replace(userinfo, (_m, scheme: string, info: string) => `${scheme}${masked(info)}@`);
  };
}

export type Masker = (value: unknown) => unknown;

/**
 * Compiles the deep masker used by the logger. Returns a masked copy of `value`.
 * @example createMasker({})({ headers: { authorization: 'Bearer x' } }) // authorization → "[masked …]"
 */
export function createMasker(rules: MaskRules = {}): Masker {
  const headers = new Set(
    [...SENSITIVE_HEADERS, ...(rules.headers ?? [])].map((h) => h.toLowerCase()),
  );
  const fields = new Set(
    [...SENSITIVE_FIELDS, ...(rules.queryParams ?? [])].map((f) => f.toLowerCase()),
  );
  const scrub = createScrubber(rules.apiKeyPrefixes, rules.queryParams);

  const maskValue = (v: unknown): unknown => {
    if (typeof v === 'string') return masked(v);
    if (Array.isArray(v)) return v.map(maskValue);
    return v === undefined || v === null ? v : '[masked]';
  };

  const walk = (value: unknown, depth: number, seen: WeakSet<object>): unknown => {
    if (typeof value === 'string') return scrub(value);
    if (value === null || typeof value !== 'object') return value;
    if (seen.has(value) || depth > 8) return '[…]';
    seen.add(value);
    if (Array.isArray(value)) {
      // A raw header list: [name, value, name, value, ...]
      return value.map((v, i) =>
        i % 2 === 1 &&
        typeof value[i - 1] === 'string' &&
        headers.has((value[i - 1] as string).toLowerCase())
          ? maskValue(v)
          : walk(v, depth + 1, seen),
      );
    }
    const out: Record<string, unknown> = {};
    if (value instanceof Error) {
      out.name = value.name;
      out.message = scrub(value.message);
      if (value.stack) out.stack = scrub(value.stack);
    }
    for (const [k, v] of Object.entries(value)) {
      const lower = k.toLowerCase();
      if (headers.has(lower) || fields.has(lower)) out[k] = maskValue(v);
      else if (lower === 'args' && Array.isArray(v))
        out[k] = v.map(maskValue); // ioredis command.args
      else out[k] = walk(v, depth + 1, seen);
    }
    return out;
  };

  return (value) => walk(value, 0, new WeakSet());
}
