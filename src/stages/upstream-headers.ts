/**
 * The headers of the upstream request (docs/design.md#headers): hop-by-hop headers and the names listed in
 * `Connection` are removed first, then authgate adds its own — X-Request-ID when it made one,
 * X-Forwarded-*, Host, the framing it re-applies, the identity headers of the authorise stage —
 * so a client can never strip what the proxy adds (@fastify/reply-from's rule).
 */
import type { IncomingMessage } from 'node:http';
import { FORWARDED_HEADERS, appendForwardedHeaders } from '../headers/forwarded';
import type { HeaderGuard } from '../headers/guarded';
import { stripHopByHop, type RawHeaders } from '../headers/hop-by-hop';
import { withoutOwnCookies } from '../auth/oidc/browser';
import type { IdentityAsserter } from '../identity/assertion';
import type { RequestScope } from '../request-scope';
import type { CompiledRoute } from '../routes/route-table';

const DROP_WITH_NEW_REQUEST_ID: ReadonlySet<string> = new Set([
  ...FORWARDED_HEADERS,
  'x-request-id',
]);

export type UpstreamHeaders = (
  req: IncomingMessage,
  scope: RequestScope,
  route: CompiledRoute,
  upgrade: boolean,
) => RawHeaders;

/**
 * With browser sign-in, authgate's cookies are removed from the forwarded `Cookie` header (the
 * session id never reaches an upstream), and a request authenticated by a session goes up with
 * the session's access token as its only `Authorization`. On a route with `identityAssertion`,
 * a request with a principal gets authgate's signed assertion; a client-sent one never passes.
 */
export interface UpstreamHeaderOptions {
  /** Browser sign-in's cookie name (authgate's cookies are removed from `Cookie`). */
  sessionCookie?: string;
  /** The identity assertion's header (a client's is always removed) and its signer. */
  assertionHeader: string;
  asserter?: IdentityAsserter;
  /** Lower-cased headers that carry a caller's credential (for `forwardCredentials: false`). */
  credentialHeaders: readonly string[];
}

export function createUpstreamHeaders(
  guard: HeaderGuard,
  options: UpstreamHeaderOptions,
): UpstreamHeaders {
  const { sessionCookie, asserter } = options;
  // The client's identity assertion goes with the headers authgate always replaces: one pass.
  const assertionHeader = options.assertionHeader.toLowerCase();
  const dropKept: ReadonlySet<string> = new Set([...FORWARDED_HEADERS, assertionHeader]);
  const dropNew: ReadonlySet<string> = new Set([...DROP_WITH_NEW_REQUEST_ID, assertionHeader]);
  return (req, scope, route, upgrade) => {
    const raw = scope.rawHeaders;
    const headers = stripHopByHop(raw, {
      drop: scope.requestIdKept ? dropKept : dropNew,
      keepUpgrade: upgrade,
      protect: guard.connectionProtected,
    });
    if (scope.wouldDeny !== undefined && !scope.internal) {
      // enforce: shadow let a refused request through: what the client claimed about itself
      // never goes up; only a verified principal's identity headers (scope.addHeaders) do.
      removeHeader(headers, 'x-user-id');
      removeHeader(headers, 'x-tenant-id');
      removeHeader(headers, route.config.tenantHeader.toLowerCase());
      for (const name of Object.keys(route.config.identityHeaders))
        removeHeader(headers, name.toLowerCase());
    }
    if (!scope.requestIdKept) headers.push('X-Request-ID', scope.requestId);
    appendForwardedHeaders(headers, raw, {
      peerIp: scope.peerIp,
      trusted: scope.peerTrusted,
      proto: 'encrypted' in req.socket ? 'https' : 'http',
      localPort: req.socket.localPort ?? 0,
      host: req.headers.host,
    });
    if (sessionCookie !== undefined) withoutSessionCookies(headers, sessionCookie);
    if (asserter && route.config.identityAssertion && scope.principal)
      headers.push(asserter.header, asserter.assertionFor(scope.principal, route.name));
    if (!route.config.forwardCredentials) {
      // The caller's credential stays with authgate; the identity goes up as headers it derives.
      for (const name of options.credentialHeaders) removeHeader(headers, name);
    } else if (scope.upstreamBearer !== undefined) {
      removeHeader(headers, 'authorization');
      headers.push('Authorization', `Bearer ${scope.upstreamBearer}`);
    }
    let hostAt = -1;
    for (let i = 0; i < headers.length; i += 2) {
      if ((headers[i] as string).toLowerCase() === 'host') {
        hostAt = i;
        break;
      }
    }
    if (hostAt === -1) headers.push('Host', route.upstream.host);
    else if (!route.config.preserveHost) headers[hostAt + 1] = route.upstream.host;
    // The client's Transfer-Encoding went with the hop-by-hop headers: frame the body ourselves,
    // whatever the method, so it can never be read upstream as a second request.
    if (scope.framing?.kind === 'chunked') headers.push('Transfer-Encoding', 'chunked');
    headers.push(...scope.addHeaders);
    return headers;
  };
}

function removeHeader(headers: string[], lowerName: string): void {
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    if ((headers[i] as string).toLowerCase() === lowerName) headers.splice(i, 2);
  }
}

function withoutSessionCookies(headers: string[], cookieName: string): void {
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    if ((headers[i] as string).toLowerCase() !== 'cookie') continue;
    const kept = withoutOwnCookies(headers[i + 1] as string, cookieName);
    if (kept === undefined) headers.splice(i, 2);
    else headers[i + 1] = kept;
  }
}
