/**
 * The browser-facing rules of sign-in (docs/browser-sign-in.md), as pure functions: what counts
 * as a browser navigation, which return targets are safe, whether a state-changing request comes
 * from authgate's own origin, and authgate's cookies — read, written and kept from upstreams.
 */
import type { RawHeaders } from '../../headers/hop-by-hop';

function headerValue(raw: RawHeaders, lowerName: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() === lowerName) return raw[i + 1] as string;
  }
  return undefined;
}

/**
 * A top-level browser navigation: GET or HEAD, `Accept` naming `text/html`, and — when the
 * browser sends Fetch metadata — `Sec-Fetch-Mode: navigate`. API clients, XHR and fetch() calls
 * are not navigations: they get the typed 401, never a redirect to a login page.
 */
export function isBrowserNavigation(method: string, raw: RawHeaders): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  const mode = headerValue(raw, 'sec-fetch-mode');
  if (mode !== undefined && mode.trim().toLowerCase() !== 'navigate') return false;
  const requestedWith = headerValue(raw, 'x-requested-with');
  if (requestedWith !== undefined && requestedWith.toLowerCase() === 'xmlhttprequest') return false;
  const accept = headerValue(raw, 'accept');
  if (accept === undefined) return false;
  return accept.split(',').some((part) => {
    const [type, ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    if (type !== 'text/html') return false;
    const q = params.find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

const MAX_RETURN_TARGET = 2048;
// Visible ASCII only: no controls, spaces, backslashes or anything a browser would reinterpret.
const RETURN_TARGET = /^\/(?![/\\])[\x21-\x5B\x5D-\x7E]*$/;

/**
 * The page to return to after sign-in: a same-origin path (with its query), never another
 * origin. `//evil.example`, `/\evil.example`, `https://evil.example`, anything with a backslash,
 * control character or space, and anything that resolves elsewhere becomes `/`.
 */
export function safeReturnTarget(target: string | undefined, origin: string): string {
  if (target === undefined || target.length > MAX_RETURN_TARGET || !RETURN_TARGET.test(target))
    return '/';
  try {
    const resolved = new URL(target, origin);
    if (resolved.origin !== origin) return '/';
    // What the browser will request must itself be a plain path again (no `//host` after
    // dot-segment removal).
    if (!RETURN_TARGET.test(resolved.pathname)) return '/';
  } catch {
    return '/';
  }
  return target;
}

/**
 * A state-changing request authenticated by the session cookie must come from authgate's own
 * origin: `Origin` when the browser sends it, else the origin of `Referer`. Neither: refused.
 */
export function fromOrigin(raw: RawHeaders, origin: string): boolean {
  const sent = headerValue(raw, 'origin');
  if (sent !== undefined) return sent === origin;
  const referer = headerValue(raw, 'referer');
  if (referer === undefined) return false;
  try {
    return new URL(referer).origin === origin;
  } catch {
    return false;
  }
}

export const STATE_CHANGING: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Every `name=value` pair of the request's Cookie headers, in order. */
export function cookiePairs(raw: RawHeaders): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() !== 'cookie') continue;
    for (const part of (raw[i + 1] as string).split(';')) {
      const eq = part.indexOf('=');
      if (eq === -1) continue;
      pairs.push([part.slice(0, eq).trim(), part.slice(eq + 1).trim()]);
    }
  }
  return pairs;
}

/** The first value of a cookie, or undefined. */
export function readCookie(raw: RawHeaders, name: string): string | undefined {
  for (const [n, v] of cookiePairs(raw)) if (n === name) return v;
  return undefined;
}

/** Is this cookie one of authgate's (the session cookie or a pre-sign-in cookie)? */
export function ownCookie(name: string, cookieName: string): boolean {
  return name === cookieName || name.startsWith(`${cookieName}_login_`);
}

/**
 * The Cookie header without authgate's cookies (which never reach an upstream), or undefined
 * when nothing is left. Other cookies are kept byte for byte.
 */
export function withoutOwnCookies(value: string, cookieName: string): string | undefined {
  const kept = value
    .split(';')
    .filter((part) => {
      const eq = part.indexOf('=');
      const name = (eq === -1 ? part : part.slice(0, eq)).trim();
      return name !== '' && !ownCookie(name, cookieName);
    })
    .map((p) => p.trim());
  return kept.length === 0 ? undefined : kept.join('; ');
}

export interface CookieOptions {
  maxAgeSec: number;
  path: string;
  secure: boolean;
}

/** A Set-Cookie value: always HttpOnly and SameSite=Lax (the callback is a cross-site GET). */
export function setCookie(name: string, value: string, options: CookieOptions): string {
  const parts = [
    `${name}=${value}`,
    `Path=${options.path}`,
    `Max-Age=${options.maxAgeSec}`,
    'HttpOnly',
    'SameSite=Lax',
  ];
  if (options.secure) parts.push('Secure');
  return parts.join('; ');
}

export function clearCookie(name: string, path: string, secure: boolean): string {
  return setCookie(name, '', { maxAgeSec: 0, path, secure });
}
