/**
 * The two request-side pieces of sending authgate's own credential upstream (docs/design.md#upstream-credentials): the
 * header list with the caller's credentials replaced by authgate's `Authorization`, and a small
 * body kept in memory so a request a registry challenged can be sent once more.
 */
import type { IncomingMessage } from 'node:http';
import { AuthgateError } from '../errors';
import type { RawHeaders } from '../headers/hop-by-hop';
import type { RequestScope } from '../request-scope';

/**
 * The upstream headers without the caller's credentials (`drop`, lower-case names) and with
 * `Authorization: value` in the place of the caller's (appended when the caller sent none).
 */
export function withUpstreamAuthorization(
  headers: RawHeaders,
  value: string,
  drop: ReadonlySet<string>,
): RawHeaders {
  const out: string[] = [];
  let placed = false;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    const lower = name.toLowerCase();
    if (lower === 'authorization' && !placed) {
      out.push(name, value);
      placed = true;
      continue;
    }
    if (drop.has(lower)) continue;
    out.push(name, headers[i + 1] as string);
  }
  if (!placed) out.push('Authorization', value);
  return out;
}

/**
 * The upstream headers with `Host` set to the configured upstream's: where authgate lends its
 * credential, a client's `Host` (kept by `preserveHost`) could send that credential to another
 * virtual host behind the same ingress.
 */
export function withUpstreamHost(headers: RawHeaders, host: string): RawHeaders {
  const out: string[] = [];
  let placed = false;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    if (name.toLowerCase() === 'host') {
      if (!placed) out.push(name, host);
      placed = true;
      continue;
    }
    out.push(name, headers[i + 1] as string);
  }
  if (!placed) out.push('Host', host);
  return out;
}

/**
 * Reads a Content-Length body of at most `limit` bytes into memory (counted in `scope.bytesIn`);
 * undefined, with nothing read, when it is larger (it is then streamed and cannot be replayed).
 */
export function readReplayableBody(
  req: IncomingMessage,
  scope: RequestScope,
  limit: number,
): Promise<Buffer | undefined> {
  const framing = scope.framing;
  if (framing?.kind !== 'length' || framing.length > limit) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const gone = (): void => {
      cleanup();
      scope.aborted = true;
      reject(new AuthgateError('BAD_REQUEST', { reason: 'client_closed' }));
    };
    const data = (c: Buffer): void => {
      chunks.push(c);
      scope.bytesIn += c.length;
    };
    const end = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const cleanup = (): void => {
      req.off('data', data);
      req.off('end', end);
      req.off('error', gone);
      req.off('aborted', gone);
    };
    req.on('data', data);
    req.once('end', end);
    req.once('error', gone);
    req.once('aborted', gone);
  });
}

/**
 * A `Location` pointing at the upstream itself becomes a path on authgate, so the client's next
 * request (a registry's blob-upload URL) comes back through authgate instead of going to the
 * upstream without a credential (nginx's `proxy_redirect default`). Other origins (a storage
 * redirect) and relative values are left as they are.
 */
export function relativeToUpstream(
  value: string,
  upstream: { origin: string; basePath: string },
  prefix: string,
  stripPrefix: boolean,
): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return value;
  }
  if (url.origin !== upstream.origin || url.username !== '' || url.password !== '') return value;
  let path = url.pathname;
  if (upstream.basePath !== '') {
    if (path !== upstream.basePath && !path.startsWith(`${upstream.basePath}/`)) return value;
    path = path.slice(upstream.basePath.length) || '/';
  }
  if (stripPrefix && prefix !== '/') path = prefix + (path === '/' ? '' : path);
  // `//evil.example/x` or `/\evil.example` would be read by a browser as another origin: an
  // open redirect. Repeated leading slashes or backslashes collapse into one `/`.
  path = path.replace(/^[/\\]+/, '/');
  return path + url.search + url.hash;
}
