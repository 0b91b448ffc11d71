/**
 * Request-target normalisation (docs/design.md#paths). Auth decisions are made on the result and exactly
 * the result is forwarded, so the upstream can never see a path authgate did not decide on.
 */
import { AuthgateError } from '../errors';

export interface RequestTarget {
  /** Normalised path: unreserved escapes decoded, dot-segments resolved, slashes collapsed. */
  path: string;
  /** Raw query including the leading "?", or "" — forwarded untouched. */
  search: string;
  /** The target held `.` or `..` segments (plain or as `%2e`) that normalisation resolved. */
  dotSegments: boolean;
}

function badRequest(message: string, reason: string): AuthgateError {
  return new AuthgateError('BAD_REQUEST', { message, reason });
}

const HEX = '0123456789ABCDEF';

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48; // 0-9
  if (code >= 65 && code <= 70) return code - 55; // A-F
  if (code >= 97 && code <= 102) return code - 87; // a-f
  return -1;
}

function isUnreserved(code: number): boolean {
  return (
    (code >= 65 && code <= 90) || // A-Z
    (code >= 97 && code <= 122) || // a-z
    (code >= 48 && code <= 57) || // 0-9
    code === 45 || // -
    code === 46 || // .
    code === 95 || // _
    code === 126 // ~
  );
}

/** Decodes %XX of unreserved characters, upper-cases other escapes, refuses ambiguous ones. */
function decodeUnreserved(path: string): string {
  let out = '';
  for (let i = 0; i < path.length; i++) {
    const code = path.charCodeAt(i);
    if (code === 37) {
      // '%'
      const hi = hexValue(path.charCodeAt(i + 1));
      const lo = hexValue(path.charCodeAt(i + 2));
      if (hi < 0 || lo < 0)
        throw badRequest('The path has an invalid percent-encoding.', 'bad_percent_encoding');
      const byte = hi * 16 + lo;
      if (byte === 0x2f || byte === 0x5c) {
        throw badRequest('Encoded "/" or "\\" is not allowed in the path.', 'encoded_separator');
      }
      if (byte === 0) throw badRequest('NUL is not allowed in the path.', 'nul');
      if (isUnreserved(byte)) out += String.fromCharCode(byte);
      else out += '%' + HEX[hi] + HEX[lo];
      i += 2;
      continue;
    }
    if (code === 92) throw badRequest('Backslashes are not allowed in the path.', 'backslash');
    if (code < 0x21 || code === 0x7f) {
      throw badRequest('Control characters are not allowed in the path.', 'control_char');
    }
    out += path[i];
  }
  return out;
}

/** RFC 3986 §5.2.4 on a path whose repeated slashes are already collapsed. */
function removeDotSegments(path: string): string {
  const segments = path.split('/');
  const out: string[] = [];
  const last = segments.length - 1;
  for (let i = 1; i <= last; i++) {
    const seg = segments[i] as string;
    if (seg === '.' || seg === '..') {
      if (seg === '..') out.pop();
      if (i === last) out.push(''); // "/a/." and "/a/.." keep the trailing slash
      continue;
    }
    out.push(seg);
  }
  return '/' + out.join('/');
}

/**
 * Parses and normalises a request-target (origin-form or absolute-form).
 * @example normalizeRequestTarget('/a/./b/%7Euser//x/../y?q=1') // { path: '/a/b/~user/y', search: '?q=1' }
 */
export function normalizeRequestTarget(target: string): RequestTarget {
  let rest = target;
  if (!rest.startsWith('/')) {
    const m = /^https?:\/\/([^/?#]*)/i.exec(rest);
    if (!m) throw badRequest('The request target must be an absolute path.', 'bad_target');
    if ((m[1] as string).includes('@')) {
      throw badRequest('Credentials in the request target are not allowed.', 'userinfo');
    }
    rest = rest.slice(m[0].length);
    if (rest === '' || rest.startsWith('?')) rest = '/' + rest;
    if (!rest.startsWith('/')) throw badRequest('The request target is malformed.', 'bad_target');
  }
  const q = rest.indexOf('?');
  const rawPath = q === -1 ? rest : rest.slice(0, q);
  const search = q === -1 ? '' : rest.slice(q);
  if (rawPath.includes('#') || search.includes('#')) {
    throw badRequest('Fragments are not allowed in the request target.', 'fragment');
  }
  const decoded = decodeUnreserved(rawPath);
  const collapsed = decoded.replace(/\/{2,}/g, '/');
  if (!collapsed.includes('.')) return { path: collapsed, search, dotSegments: false };
  const path = removeDotSegments(collapsed);
  const dotSegments = collapsed.split('/').some((s) => s === '.' || s === '..');
  return { path, search, dotSegments };
}

/** `s` without trailing "/" (linear: a `/\/+$/` replace is quadratic on many slashes). */
export function trimTrailingSlashes(s: string): string {
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 47) end--;
  return s.slice(0, end);
}

/** A `.` or `..` segment in the path of a raw target, plain or percent-encoded (`%2e`). */
export function hasDotSegments(target: string): boolean {
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  return /(?:^|\/)(?:\.|%2e){1,2}(?=\/|$)/i.test(path);
}
