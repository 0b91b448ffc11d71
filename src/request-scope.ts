/**
 * The one typed object that carries a request through the chain (cf. oauth2-proxy's
 * RequestScope); nothing else is hung on `req`.
 */
import type { IncomingMessage } from 'node:http';
import type { Credentials } from './auth/credentials';
import type { ErrorCode } from './errors';
import type { BodyFraming } from './headers/framing';
import { normalizeIp } from './headers/forwarded';
import type { RawHeaders } from './headers/hop-by-hop';
import { decideRequestId } from './headers/request-id';
import type { CompiledRoute } from './routes/route-table';
import type { RequestTrace } from './tracing/tracing';

export interface Principal {
  userId: string;
  tenantIds: readonly string[];
  scopes: readonly string[];
  authMethod: 'jwt' | 'api_key' | 'alb_oidc' | 'session' | 'client_cert';
  /** epoch seconds, when known */
  expiresAt?: number;
  /** issuer name for JWTs */
  issuer?: string;
  /** API keys: the auth service's `key_id` (logged; never the key itself). */
  keyId?: string;
  /**
   * The verified claims it came from (a JWT's payload, the ALB's, the sign-in provider's), for
   * a route's `identityHeaders`; never logged.
   */
  claims?: Readonly<Record<string, unknown>>;
}

export interface RequestScope {
  readonly requestId: string;
  /** The client's X-Request-ID is forwarded as it came (otherwise ours replaces it). */
  readonly requestIdKept: boolean;
  readonly startedAt: number;
  readonly method: string;
  readonly rawHeaders: RawHeaders;
  readonly peerIp: string;
  /** The socket peer is one of `server.trustedProxies` (decided by the hygiene stage). */
  peerTrusted: boolean;
  clientIp: string;
  /** A WebSocket upgrade (the route must allow it). */
  upgrade: boolean;
  /** Normalised path (no query). */
  path?: string;
  search: string;
  /** How the client framed its body; decided once, re-applied upstream. */
  framing?: BodyFraming;
  route?: CompiledRoute;
  /**
   * A CORS preflight on a route with `cors.preflight`: it carries no credential by design
   * (Fetch spec), is answered without authentication, never in authgate's name, without a body.
   */
  preflight: boolean;
  credentials?: Credentials;
  /** A credential of any kind was presented (auth/credentials.ts `credentialPresented`). */
  presented: boolean;
  /**
   * The caller is an internal hop (`server.internalNetworks`), decided once on the resolved
   * client address — never on the socket peer, which behind a trusted proxy is the proxy.
   */
  internal: boolean;
  principal?: Principal;
  /**
   * The tenant this request acts for, set only once verified (the principal holds it): the
   * tenant header or path tenant that was checked, else the principal's first tenant. Read by
   * tenant rate limits and logs; never an unverified value.
   */
  tenantId?: string;
  /**
   * A browser session's access token: the upstream gets it as `Authorization: Bearer` (set by
   * the session authenticator; never logged).
   */
  upstreamBearer?: string;
  /** Headers the authorisation stage wants added to the upstream request (e.g. X-User-ID). */
  addHeaders: RawHeaders;
  /** Headers added to the client response (e.g. the RateLimit fields). */
  responseHeaders: RawHeaders;
  /** The auth decision (the auth stage's audit line): allow, deny or error. */
  decision?: 'allow' | 'deny' | 'error' | 'would_deny';
  /**
   * `enforce: shadow`: the reason a check would have refused this request (it went on). The
   * upstream then gets no identity or tenant header the client sent — only what a verified
   * principal earns.
   */
  wouldDeny?: string;
  /** ms the auth stage took (credential verification included): the audit line's `auth_ms`. */
  authMs?: number;
  /** The request's trace, when it is recorded (tracing/tracing.ts). */
  trace?: RequestTrace;
  errorCode?: ErrorCode;
  errorReason?: string;
  upstreamStatus?: number;
  upstreamMs?: number;
  bytesIn: number;
  bytesOut: number;
  aborted: boolean;
}

export function routeLabel(scope: RequestScope): string {
  return scope.route?.name ?? 'none';
}

/** Stage "request id": the scope of a new request, with the X-Request-ID it will carry. */
export function createRequestScope(req: IncomingMessage): RequestScope {
  const raw = req.rawHeaders;
  const { requestId, kept } = decideRequestId(raw);
  const peerIp = normalizeIp(req.socket.remoteAddress);
  return {
    requestId,
    requestIdKept: kept,
    startedAt: performance.now(),
    method: req.method ?? 'GET',
    rawHeaders: raw,
    peerIp,
    peerTrusted: false,
    clientIp: peerIp,
    upgrade: false,
    search: '',
    presented: false,
    internal: false,
    preflight: false,
    addHeaders: [],
    responseHeaders: [],
    bytesIn: 0,
    bytesOut: 0,
    aborted: false,
  };
}

/** A CORS preflight: OPTIONS with `Origin` and `Access-Control-Request-Method`. */
export function isCorsPreflight(req: IncomingMessage): boolean {
  return (
    req.method === 'OPTIONS' &&
    req.headers.origin !== undefined &&
    req.headers['access-control-request-method'] !== undefined
  );
}
