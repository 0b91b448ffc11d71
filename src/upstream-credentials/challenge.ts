/**
 * `WWW-Authenticate` challenges (RFC 7235 §4.1) and the registry scope a request needs (the
 * distribution token protocol): what authgate needs to answer a registry's `401` with a token
 * exchange, and to pre-authenticate the next request of the same repository from the cache.
 */

export interface Challenge {
  /** lower-case auth scheme */
  scheme: string;
  /** parameter names lower-case, values unquoted */
  params: Record<string, string>;
}

const TCHAR = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;

/** Every challenge of a WWW-Authenticate value (several headers joined with ", " included). */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const n = header.length;
  const skipWs = (): void => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < n && TCHAR.test(header[i] as string)) i++;
    return header.slice(start, i);
  };
  const quoted = (): string => {
    let value = '';
    i++; // opening quote
    while (i < n && header[i] !== '"') {
      if (header[i] === '\\' && i + 1 < n) i++;
      value += header[i];
      i++;
    }
    i++; // closing quote
    return value;
  };
  while (i < n) {
    skipWs();
    if (header[i] === ',') {
      i++;
      continue;
    }
    const scheme = token();
    if (scheme === '') {
      i++; // not a token character: skip it
      continue;
    }
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(challenge);
    // Parameters until the next challenge: a bare token after a comma starts one; a bare token
    // right after the scheme is a token68 (e.g. "Negotiate abc==") and carries no parameters.
    let afterScheme = true;
    for (;;) {
      skipWs();
      const save = i;
      const name = token();
      skipWs();
      const isParam =
        name !== '' &&
        header[i] === '=' &&
        i + 1 < n &&
        header[i + 1] !== '=' &&
        header[i + 1] !== ',';
      if (!isParam) {
        if (name !== '' && afterScheme) {
          // token68: the token and its "=" padding
          while (i < n && header[i] === '=') i++;
        } else {
          i = save;
        }
        break;
      }
      afterScheme = false;
      i++; // "="
      skipWs();
      const value = header[i] === '"' ? quoted() : token();
      challenge.params[name.toLowerCase()] = value;
      skipWs();
      if (header[i] !== ',') break;
      i++;
    }
  }
  return out;
}

/** The Bearer challenge with a realm, if any (the registry token protocol's). */
export function bearerChallenge(
  header: string | undefined,
): { realm: string; service?: string; scope?: string } | undefined {
  if (header === undefined) return undefined;
  const c = parseChallenges(header).find((ch) => ch.scheme === 'bearer' && ch.params.realm);
  if (!c) return undefined;
  const out: { realm: string; service?: string; scope?: string } = {
    realm: c.params.realm as string,
  };
  if (c.params.service !== undefined) out.service = c.params.service;
  if (c.params.scope !== undefined) out.scope = c.params.scope;
  return out;
}

const REPOSITORY_PATH =
  /^\/v2\/(.+)\/(?:blobs\/uploads\/[^/]*|blobs\/[^/]+|manifests\/[^/]+|tags\/list|referrers\/[^/]+)$/;

/**
 * The scopes, most specific first, a registry would ask for this request (distribution's rules:
 * GET/HEAD pull; POST/PUT/PATCH pull,push; DELETE delete). `['']` for the /v2/ ping, undefined for
 * a path that is not a registry API call.
 */
export function registryScopes(method: string, path: string): string[] | undefined {
  if (path === '/v2' || path === '/v2/') return [''];
  if (path === '/v2/_catalog') return ['registry:catalog:*'];
  const m = REPOSITORY_PATH.exec(path);
  if (!m) return undefined;
  const repo = `repository:${m[1] as string}`;
  switch (method) {
    case 'GET':
    case 'HEAD':
      return [`${repo}:pull`, `${repo}:pull,push`, `${repo}:push,pull`, `${repo}:*`];
    case 'DELETE':
      return [`${repo}:delete`, `${repo}:*`];
    default:
      return [`${repo}:pull,push`, `${repo}:push,pull`, `${repo}:*`];
  }
}
