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
  'x-amzn-oidc-data',
  'x-amzn-oidc-accesstoken',
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

/** Secrets in one value that get a correlatable fingerprint; later ones are masked plainly. */
const MAX_FINGERPRINTS_PER_VALUE = 8;

/** Candidate secret shapes and masks one value may hold before it is masked whole. */
export const MAX_SHAPES_PER_VALUE = 64;
const SHAPE_FLOOD = new Error('too many secret-shaped parts');

/** Longest string value a log line keeps (after scrubbing); the rest is cut and counted. */
export const MAX_LOGGED_CHARS = 4096;

export function capLength(text: string): string {
  if (text.length <= MAX_LOGGED_CHARS) return text;
  return `${text.slice(0, MAX_LOGGED_CHARS)}…[+${text.length - MAX_LOGGED_CHARS} chars]`;
}

/*
 * Every pattern below runs in time linear in its input: the scrubber sees request
 * paths and error texts an attacker controls, and a backtracking pattern let a 14 KB path cost
 * 90-200 ms of event loop. The two shapes that cannot be written as a linear regular expression
 * (a JWT may start inside a word, a URL scheme is found by what follows it) are hand-written
 * scanners that look at each character a bounded number of times. The regexes are checked by
 * eslint-plugin-regexp (no-super-linear-backtracking, no-super-linear-move), and
 * `npm run bench` times worst-case inputs against ordinary ones.
 */

const isSegmentChar = (c: number): boolean =>
  (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 95;

const NOT_SEGMENT = /[^\w-]/g;

/** End of the run of base64url characters starting at `i` (a native scan, one pass). */
function segmentEnd(text: string, i: number): number {
  NOT_SEGMENT.lastIndex = i;
  return NOT_SEGMENT.exec(text)?.index ?? text.length;
}

/**
 * `text.replace(re, fn)` that calls `fn` as it finds each match. V8's global replace finds every
 * match before the first callback runs, so a callback that gives up (the shape budget) would
 * not save the scan.
 */
function replaceEach(text: string, re: RegExp, fn: (m: RegExpExecArray) => string): string {
  re.lastIndex = 0;
  let out = '';
  let copied = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    out += text.slice(copied, m.index) + fn(m);
    copied = re.lastIndex;
    if (m[0] === '') re.lastIndex++;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/**
 * The same language as /eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}(?:\.[A-Za-z0-9_-]*){1,3}/g,
 * scanned once: when a candidate fails, every later "eyJ" in the same first segment fails at
 * the same place, so the scan resumes after that segment.
 */
export function maskJwts(
  text: string,
  mask: (secret: string) => string = masked,
  candidate: () => void = () => undefined,
): string {
  let out = '';
  let copied = 0;
  let from = 0;
  for (;;) {
    const start = text.indexOf('eyJ', from);
    if (start === -1) break;
    candidate();
    const first = segmentEnd(text, start + 3);
    from = first;
    if (first - start < 5 || text.charCodeAt(first) !== 46) continue;
    const second = segmentEnd(text, first + 1);
    if (second - first - 1 < 2 || text.charCodeAt(second) !== 46) continue;
    let end = second;
    for (let dots = 0; dots < 3 && text.charCodeAt(end) === 46; dots++)
      end = segmentEnd(text, end + 1);
    out += text.slice(copied, start) + mask(text.slice(start, end));
    copied = end;
    from = end;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

const isWordChar = (c: number): boolean => isSegmentChar(c) && c !== 45;
const isSchemeChar = (c: number): boolean =>
  (c >= 48 && c <= 57) ||
  (c >= 65 && c <= 90) ||
  (c >= 97 && c <= 122) ||
  c === 43 ||
  c === 45 ||
  c === 46;
const isLetter = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const isSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13);

/**
 * Masks URL userinfo (`scheme://user:password@host`), found from each "://": the scheme is the
 * run of scheme characters before it (starting with a letter at a word boundary), the userinfo
 * everything up to "@" without "/" or whitespace. Runs between two "://" never overlap.
 */
export function maskUserinfo(
  text: string,
  mask: (secret: string) => string = masked,
  candidate: () => void = () => undefined,
): string {
  let out = '';
  let copied = 0;
  let from = 0;
  for (;;) {
    const sep = text.indexOf('://', from);
    if (sep === -1) break;
    candidate();
    from = sep + 3;
    let start = sep;
    while (start > copied && isSchemeChar(text.charCodeAt(start - 1))) start--;
    // The leftmost letter that starts a word, as `\b[a-z]` would find it.
    while (
      start < sep &&
      !(
        isLetter(text.charCodeAt(start)) &&
        (start === 0 || !isWordChar(text.charCodeAt(start - 1)))
      )
    )
      start++;
    if (start === sep) continue;
    let end = sep + 3;
    while (end < text.length) {
      const c = text.charCodeAt(end);
      if (c === 47 || c === 64 || isSpace(c)) break;
      end++;
    }
    if (end === sep + 3 || text.charCodeAt(end) !== 64) continue;
    out += text.slice(copied, sep + 3) + mask(text.slice(sep + 3, end));
    copied = end;
    from = end + 1;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/**
 * What every secret shape the scrubber knows needs somewhere in the text: a JWT has dots, a
 * query credential `=`, URL userinfo `@`, an Authorization value a space after its scheme.
 * A value with none of them (and no API-key prefix) is returned as it is, without the scan —
 * most logged values: request ids, paths without dots, names.
 */
const MAY_HOLD_SECRET = /[.=@\s]/;

/** Compiles the string scrubber: secret shapes, credentials in URLs and query strings. */
export function createScrubber(
  apiKeyPrefixes: readonly string[] = [],
  queryParams: readonly string[] = [],
): Scrubber {
  const full = createFullScrubber(apiKeyPrefixes, queryParams);
  return (text) => {
    if (MAY_HOLD_SECRET.test(text)) return full(text);
    for (let i = 0; i < apiKeyPrefixes.length; i++)
      if (text.includes(apiKeyPrefixes[i] as string)) return full(text);
    return text;
  };
}

/** The scrubber without the pre-check (exported for the property test that compares the two). */
export function createFullScrubber(
  apiKeyPrefixes: readonly string[] = [],
  queryParams: readonly string[] = [],
): Scrubber {
  // Linear: starts only at a scheme word, and `\s+` and the credential class are disjoint.
  const authScheme = /\b(Bearer|Basic|Digest|Negotiate)\s+([\w.~+/=-]{6,})/gi;
  const params = [...SENSITIVE_QUERY_PARAMS, ...queryParams].map(escapeRegExp).join('|');
  const query = new RegExp(`([?&;](?:${params})=)([^&\\s#"']+)`, 'gi');
  const apiKey =
    apiKeyPrefixes.length > 0
      ? new RegExp(`(?:${apiKeyPrefixes.map(escapeRegExp).join('|')})[\\w-]+`, 'g')
      : undefined;
  return (text) => {
    // Every candidate shape and every mask spends from one budget per value. An ordinary value
    // spends a handful; one crafted to hold hundreds of shapes is replaced whole as soon as the
    // budget runs out, so its cost stays that of an ordinary value.
    let budget = MAX_SHAPES_PER_VALUE;
    const spend = (): void => {
      if (--budget < 0) throw SHAPE_FLOOD;
    };
    // Fingerprints cost a hash each: only the first few secrets get one.
    let fingerprints = MAX_FINGERPRINTS_PER_VALUE;
    const mask = (secret: string): string => {
      spend();
      return fingerprints-- > 0 ? masked(secret) : '[masked]';
    };
    try {
      let out = maskJwts(text, mask, spend);
      if (apiKey) out = replaceEach(out, apiKey, (m) => mask(m[0]));
      out = replaceEach(out, authScheme, ([, scheme, cred]) =>
        cred!.startsWith('[masked') ? `${scheme} ${cred}` : `${scheme} ${mask(cred!)}`,
      );
      out = replaceEach(out, query, ([, head, value]) =>
        value!.startsWith('[masked') ? head! + value : head! + mask(value!),
      );
      return maskUserinfo(out, mask, spend);
    } catch (err) {
      if (err !== SHAPE_FLOOD) throw err;
      return `[masked: ${text.length} chars with more than ${MAX_SHAPES_PER_VALUE} secret-shaped parts]`;
    }
  };
}

export interface Masker {
  /** A masked copy of `value` (nested keys masked by name, strings by shape). */
  (value: unknown): unknown;
  /** A field whose name alone says it holds a secret (`password`, `authorization`, ...). */
  sensitive(key: string): boolean;
  /** The value of such a field, masked. */
  maskField(value: unknown): unknown;
}

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
    // Whether a credential was present (`api_key: true`) is no secret.
    return v === undefined || v === null || typeof v === 'boolean' ? v : '[masked]';
  };

  const walk = (value: unknown, depth: number, seen: WeakSet<object>): unknown => {
    if (typeof value === 'string') return capLength(scrub(value));
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

  // Log keys are a small, fixed set: each one's answer is worked out once (this runs for every
  // field of every access and audit line).
  const known = new Map<string, boolean>();
  const sensitive = (key: string): boolean => {
    let answer = known.get(key);
    if (answer === undefined) {
      const lower = key.toLowerCase();
      answer = headers.has(lower) || fields.has(lower);
      if (known.size < 10_000) known.set(key, answer);
    }
    return answer;
  };
  return Object.assign((value: unknown) => walk(value, 0, new WeakSet()), {
    sensitive,
    maskField: maskValue,
  });
}
