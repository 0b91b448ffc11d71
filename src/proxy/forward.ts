/**
 * The transport: streams one request to its upstream on raw header lists, so that names, case,
 * order and repeated headers arrive exactly as sent; connect and response timeouts, one retry
 * on a reused socket the upstream had closed, client aborts passed on. The response goes back
 * through `relayResponse` (./relay.ts); socket errors become typed errors in ./upstream-error.ts.
 * No body is parsed or buffered: both directions are piped with backpressure.
 */
import {
  request as httpRequest,
  type Agent,
  type ClientRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AuthgateError } from '../errors';
import type { RawHeaders } from '../headers/hop-by-hop';
import type { StreamMemoryGuard } from './memory-guard';
import type { Upstream } from '../routes/route-table';
import { relayResponse } from './relay';
import { CONNECT_TIMEOUT, RESPONSE_TIMEOUT, codedError, upstreamError } from './upstream-error';

export interface ForwardRequest {
  req: IncomingMessage;
  res: ServerResponse;
  upstream: Upstream;
  agent: Agent;
  /** Path and query as sent upstream. */
  path: string;
  /** Final upstream request headers (hop-by-hop already removed, body framing set). */
  headers: RawHeaders;
  /** A body follows the request headers (see headers/framing). */
  hasBody: boolean;
  /** The body, already read (kept so a challenged request can be sent again); else piped from `req`. */
  body?: Buffer;
  connectTimeoutMs: number;
  responseTimeoutMs: number;
  /** Headers appended to the client response (e.g. X-Request-ID). */
  responseHeaders: RawHeaders;
  /** Maps the upstream's `Location` values (e.g. the upstream's own URLs back to relative ones). */
  rewriteLocation?: (value: string) => string;
  /** Lower-cased upstream response headers replaced by `responseHeaders`. */
  dropResponseHeaders: ReadonlySet<string>;
  /** Close the client connection after this response (draining). */
  closeConnection: () => boolean;
  /**
   * Upstream statuses answered by authgate instead: `replaceResponse` consumes the upstream
   * response and returns the typed error to send (e.g. upstream 401/403).
   */
  replaceStatuses?: ReadonlySet<number>;
  replaceResponse?: (res: IncomingMessage) => Promise<AuthgateError | typeof RETRY>;
  stats: ForwardStats;
  memoryGuard?: StreamMemoryGuard;
}

/** Filled in as the exchange goes (the request scope is passed here, so logs see it live). */
export interface ForwardStats {
  /** Status sent to the client; undefined when the exchange was cut before a response. */
  upstreamStatus?: number;
  bytesIn: number;
  bytesOut: number;
  /** ms from the upstream request until its response headers. */
  upstreamMs?: number;
  /** The client went away, or the upstream broke off mid-body. */
  aborted: boolean;
}

/** `replaceResponse` asks for the request to be sent again (with a new credential). */
export const RETRY = Symbol('retry');

/** Rejection of `forward` when `replaceResponse` returned RETRY: nothing was sent to the client. */
export class ForwardRetry extends Error {
  constructor() {
    super('retry');
  }
}

/** An error to answer in place of the upstream response (before anything was sent). */
export class ForwardFailure extends Error {
  constructor(readonly error: AuthgateError) {
    super(error.message);
  }
}

/**
 * Forwards `f.req` and resolves when the client response has ended; rejects with
 * `ForwardFailure` when nothing was sent yet, so the caller can answer a typed error.
 */
export function forward(f: ForwardRequest): Promise<void> {
  const { req, res, upstream, stats: result } = f;
  const hasBody = f.hasBody;
  const send = upstream.protocol === 'https:' ? httpsRequest : httpRequest;

  return new Promise<void>((resolve, reject) => {
    let settled = false;
    let retried = false;
    let started = 0;
    const finish = (err?: AuthgateError | typeof RETRY): void => {
      if (settled) return;
      settled = true;
      res.off('close', onClientGone);
      req.off('error', onClientGone);
      if (err === RETRY) reject(new ForwardRetry());
      else if (err) reject(new ForwardFailure(err));
      else resolve();
    };

    const onClientGone = (): void => {
      if (res.writableFinished) return;
      result.aborted = true;
      current?.destroy();
      finish();
    };
    res.once('close', onClientGone);

    let current: ClientRequest | undefined;
    const attempt = (): void => {
      started = performance.now();
      const proxyReq = send({
        protocol: upstream.protocol,
        hostname: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: f.path,
        headers: f.headers,
        agent: f.agent,
        setHost: false,
      });
      current = proxyReq;

      proxyReq.on('socket', (socket) => {
        // Small requests must not wait for Nagle + delayed ACK (~40 ms stalls).
        socket.setNoDelay(true);
        if (!socket.connecting) return;
        const timer = setTimeout(
          () => proxyReq.destroy(codedError(CONNECT_TIMEOUT, 'upstream connect timeout')),
          f.connectTimeoutMs,
        );
        socket.once(upstream.protocol === 'https:' ? 'secureConnect' : 'connect', () =>
          clearTimeout(timer),
        );
        socket.once('close', () => clearTimeout(timer));
      });
      proxyReq.setTimeout(f.responseTimeoutMs, () =>
        proxyReq.destroy(codedError(RESPONSE_TIMEOUT, 'upstream response timeout')),
      );
      // Expect: 100-continue is answered by the upstream, not by us (see server 'checkContinue').
      proxyReq.on('continue', () => {
        if (!res.headersSent) res.writeContinue();
      });

      proxyReq.on('error', (err: NodeJS.ErrnoException) => {
        if (settled) return;
        if (res.headersSent) {
          // Broke off mid-response: the client must see a cut, never a clean but short body.
          result.aborted = true;
          res.destroy();
          finish();
          return;
        }
        // A pooled socket the upstream closed just as we reused it: safe to retry once when
        // there is no request body to replay.
        if (!retried && !hasBody && proxyReq.reusedSocket && err.code === 'ECONNRESET') {
          retried = true;
          attempt();
          return;
        }
        finish(upstreamError(err));
      });

      proxyReq.on('response', (proxyRes) => {
        result.upstreamMs = performance.now() - started;
        relayResponse(proxyRes, f, finish);
      });

      if (!hasBody) {
        proxyReq.end();
      } else if (f.body) {
        proxyReq.end(f.body);
      } else {
        req.pipe(proxyReq);
        req.on('data', (chunk: Buffer) => {
          result.bytesIn += chunk.length;
          f.memoryGuard?.count(chunk.length);
        });
      }
    };

    req.once('error', onClientGone);
    attempt();
  });
}
