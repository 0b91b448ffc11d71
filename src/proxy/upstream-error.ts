/**
 * Upstream failures → typed errors, as a pure table (cf. http-proxy-middleware status-code.ts).
 * The message never names the upstream, its address, the URL or any header.
 */
import { AuthgateError } from '../errors';

export type UpstreamFailureKind =
  | 'connect_refused'
  | 'connect_timeout'
  | 'response_timeout'
  | 'queue_timeout'
  | 'dns'
  | 'unreachable'
  | 'reset'
  | 'tls'
  | 'protocol'
  | 'other';

/** Our own timeouts carry these codes so they classify like socket errors. */
export const CONNECT_TIMEOUT = 'AUTHGATE_CONNECT_TIMEOUT';
export const RESPONSE_TIMEOUT = 'AUTHGATE_RESPONSE_TIMEOUT';
/** Every pooled connection to the upstream stayed busy for the whole response deadline. */
export const QUEUE_TIMEOUT = 'AUTHGATE_QUEUE_TIMEOUT';

const KIND_BY_CODE: Readonly<Record<string, UpstreamFailureKind>> = {
  ECONNREFUSED: 'connect_refused',
  [CONNECT_TIMEOUT]: 'connect_timeout',
  ETIMEDOUT: 'connect_timeout',
  [RESPONSE_TIMEOUT]: 'response_timeout',
  [QUEUE_TIMEOUT]: 'queue_timeout',
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  EHOSTDOWN: 'unreachable',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  ECONNABORTED: 'reset',
  // undici's own errors (the forwarder, proxy/forward.ts).
  UND_ERR_CONNECT_TIMEOUT: 'connect_timeout',
  UND_ERR_HEADERS_TIMEOUT: 'response_timeout',
  UND_ERR_BODY_TIMEOUT: 'response_timeout',
  UND_ERR_SOCKET: 'reset',
  UND_ERR_CLOSED: 'reset',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'protocol',
  UND_ERR_HEADERS_OVERFLOW: 'protocol',
  HPE_INVALID_CONSTANT: 'protocol',
  HPE_INVALID_HEADER_TOKEN: 'protocol',
  HPE_UNEXPECTED_CONTENT_LENGTH: 'protocol',
  HPE_HEADER_OVERFLOW: 'protocol',
  ERR_INVALID_CHAR: 'protocol',
  ERR_INVALID_HTTP_TOKEN: 'protocol',
};

export function upstreamFailureKind(code: string | undefined): UpstreamFailureKind {
  if (code === undefined) return 'other';
  const kind = KIND_BY_CODE[code];
  if (kind) return kind;
  if (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || code.includes('CERT'))
    return 'tls';
  if (code.startsWith('HPE_')) return 'protocol';
  return 'other';
}

const MESSAGES: Readonly<Record<UpstreamFailureKind, string>> = {
  connect_refused: 'The upstream service refused the connection.',
  connect_timeout: 'The upstream service did not accept the connection in time.',
  response_timeout: 'The upstream service did not answer in time.',
  queue_timeout: 'Every connection to the upstream service stayed busy; retry later.',
  dns: 'The upstream service name could not be resolved.',
  unreachable: 'The upstream service is unreachable.',
  reset: 'The upstream service closed the connection.',
  tls: 'The TLS handshake with the upstream service failed.',
  protocol: 'The upstream service sent an invalid HTTP response.',
  other: 'The upstream service could not be reached.',
};

/** Maps a socket/HTTP client error to 502 UPSTREAM_UNAVAILABLE or 504 UPSTREAM_TIMEOUT. */
export function upstreamError(err: unknown): AuthgateError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const kind = upstreamFailureKind(code);
  const timeout =
    kind === 'connect_timeout' || kind === 'response_timeout' || kind === 'queue_timeout';
  return new AuthgateError(timeout ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_UNAVAILABLE', {
    message: MESSAGES[kind],
    reason: kind,
    cause: err,
  });
}

export function codedError(code: string, message: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(message);
  err.code = code;
  return err;
}
