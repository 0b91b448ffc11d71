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

export interface Principal {
  userId: string;
  tenantIds: readonly string[];
  scopes: readonly string[];
  authMethod: 'jwt' | 'api_key' | 'alb_oidc';
  /** epoch seconds, when known */
  expiresAt?: number;
  /** issuer name for JWTs */
  issuer?: string;
}

export interface RequestScope {
  readonly requestId: string;
  /** The client's X-Request-ID is forwarded as it came (otherwise ours replaces it). */
  readonly requestIdKept: boolean;
  readonly startedAt: number;
  readonly method: string;
  readonly rawHeaders: RawHeaders;
  readonly peerIp: string;
  clientIp: string;
  /** Normalised path (no query). */
  path?: string;
  search: string;
  /** How the client framed its body; decided once, re-applied upstream. */
  framing?: BodyFraming;
  route?: CompiledRoute;
  credentials?: Credentials;
  principal?: Principal;
  /** The route's tenant header value, for logs (not a secret). */
  tenantId?: string;
  /** Headers the authorisation stage wants added to the upstream request (e.g. X-User-ID). */
  addHeaders: RawHeaders;
  /** Headers added to the client response (e.g. the RateLimit fields). */
  responseHeaders: RawHeaders;
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
    clientIp: peerIp,
    search: '',
    addHeaders: [],
    responseHeaders: [],
    bytesIn: 0,
    bytesOut: 0,
    aborted: false,
  };
}
