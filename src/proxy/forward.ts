/**
 * The transport, on undici: one request to its upstream through the origin's
 * connection pool (`Pool.dispatch` with a flat raw header list), the response relayed as it
 * arrives. End-to-end headers keep their exact names, case, order and repeats both ways.
 * What changes on the wire, and why:
 * - `Host` goes first and in lower case (`host:`), as RFC 9112 §3.2 asks of a client; its value
 *   is the one authgate decided (the upstream's, or the client's with `preserveHost`).
 * - `Content-Length` is written by undici (`content-length:`, once): the framing authgate
 *   validated (headers/framing.ts). A chunked body is re-chunked by undici whatever the method
 *   ( a body never becomes a second request); `Transfer-Encoding` is never copied.
 * - `connection: keep-alive` is undici's own hop-by-hop header on authgate's connection.
 * - `Expect: 100-continue` ends at authgate: the client's 100 is sent by authgate once the
 *   request passed authentication and its body is wanted (undici cannot relay an upstream 100).
 * Connect and response timeouts, one retry of an idempotent request without a body whose
 * connection was reset before any response, client aborts passed on, upstream 401/403 handed to
 * `replaceResponse`. No body is parsed or buffered: both directions stream with backpressure.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { AuthgateError } from '../errors';
import { stripHopByHop, type RawHeaders } from '../headers/hop-by-hop';
import { REFUSED_CODES, type UpstreamChooser, type UpstreamTarget } from './balancer';
import type { StreamMemoryGuard } from './memory-guard';
import { QUEUE_TIMEOUT, RESPONSE_TIMEOUT, codedError, upstreamError } from './upstream-error';

/** An upstream response handed to `replaceResponse` (its status is one authgate answers). */
export interface UpstreamReply {
  readonly statusCode: number;
  /** The first value of a response header (lower-case name). */
  header(lowerName: string): string | undefined;
  /** The body when at most REPLY_BODY_MAX bytes; undefined when larger or cut. */
  body(): Promise<Buffer | undefined>;
  /** The body is not wanted (drained, so the connection can be kept). */
  discard(): void;
}

/** The most of a replaced response's body that is read (larger ones are dropped). */
export const REPLY_BODY_MAX = 64 * 1024;

export interface ForwardRequest {
  req: IncomingMessage;
  res: ServerResponse;
  /** The route's upstream addresses (proxy/balancer.ts): one is picked per attempt. */
  upstream: UpstreamChooser;
  /** Set `Host` to the picked upstream's (several upstream hosts, preserveHost off). */
  hostPerTarget?: boolean;
  method: string;
  /** Path and query as sent upstream. */
  path: string;
  /** Final upstream request headers (hop-by-hop already removed, body framing set). */
  headers: RawHeaders;
  /** A body follows the request headers (see headers/framing). */
  hasBody: boolean;
  /** The body, already read (kept so a challenged request can be sent again); else piped from `req`. */
  body?: Buffer;
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
  replaceResponse?: (reply: UpstreamReply) => Promise<AuthgateError | typeof RETRY>;
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

/** RFC 9110 §9.2.2: may be sent again automatically when the connection failed. */
const IDEMPOTENT: ReadonlySet<string> = new Set([
  'GET',
  'HEAD',
  'OPTIONS',
  'TRACE',
  'PUT',
  'DELETE',
]);
/** A reason phrase of visible ASCII, spaces and tabs (RFC 9112 §4 without obs-text). */
const SAFE_REASON = /^[\t\x20-\x7e]*$/;

/** The most body bytes gathered into one upstream or client write. */
const COALESCE_MAX = 64 * 1024;

/** A kept-alive connection the upstream closed just as it was reused. */
const RESET_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

/**
 * The request headers as undici takes them: framing headers it writes itself are left out
 * (`Transfer-Encoding`, repeats of an agreeing `Content-Length`, whose list `5, 5` becomes
 * `5`), `Expect` ends here.
 */
export function dispatchHeaders(headers: RawHeaders): RawHeaders {
  let out: RawHeaders | undefined;
  let sawLength = false;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    const n = name.length;
    let drop = false;
    if (n === 6 || n === 14 || n === 17) {
      const lower = name.toLowerCase();
      if (lower === 'expect' || lower === 'transfer-encoding') drop = true;
      else if (lower === 'content-length') {
        drop = sawLength;
        sawLength = true;
        // `5, 5` (agreeing values, checked by headers/framing) goes up as one value.
        const value = headers[i + 1] as string;
        if (!drop && value.includes(',')) {
          out ??= headers.slice(0, i);
          out.push(name, (value.split(',')[0] as string).trim());
          continue;
        }
      }
    }
    if (drop) out ??= headers.slice(0, i);
    else if (out) out.push(name, headers[i + 1] as string);
  }
  return out ?? headers;
}

/** The header list with its `Host` value replaced (a copy). */
export function withHost(headers: RawHeaders, host: string): RawHeaders {
  const out = headers.slice();
  for (let i = 0; i < out.length; i += 2) {
    if ((out[i] as string).length === 4 && (out[i] as string).toLowerCase() === 'host') {
      out[i + 1] = host;
      return out;
    }
  }
  out.push('Host', host);
  return out;
}

function latin1(raw: Buffer[]): RawHeaders {
  const out: RawHeaders = new Array<string>(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = (raw[i] as Buffer).toString('latin1');
  return out;
}

type Finish = (err?: AuthgateError | typeof RETRY) => void;

const continued = new WeakSet<ServerResponse>();

/**
 * `Expect: 100-continue`: tells the client to send its body — once, and only after the request
 * passed every check (authgate reads the body itself for a replayable token exchange, or
 * streams it upstream).
 */
export function continueOnce(req: IncomingMessage, res: ServerResponse): void {
  if (req.headers.expect === undefined || res.headersSent || continued.has(res)) return;
  continued.add(res);
  res.writeContinue();
}

function flushResponse(ex: Exchange): void {
  ex.flush();
}

/** The body of a replaced response, collected up to REPLY_BODY_MAX. */
class Reply implements UpstreamReply {
  private chunks: Buffer[] | undefined = [];
  private size = 0;
  private done?: Promise<Buffer | undefined>;
  private settle?: (body: Buffer | undefined) => void;
  private ended: Buffer | undefined | null = null;

  constructor(
    readonly statusCode: number,
    private readonly raw: RawHeaders,
    private readonly abort: () => void,
  ) {}

  header(lowerName: string): string | undefined {
    for (let i = 0; i < this.raw.length; i += 2) {
      if ((this.raw[i] as string).toLowerCase() === lowerName) return this.raw[i + 1];
    }
    return undefined;
  }

  body(): Promise<Buffer | undefined> {
    if (!this.done) {
      this.done =
        this.ended !== null
          ? Promise.resolve(this.ended)
          : new Promise((resolve) => (this.settle = resolve));
    }
    return this.done;
  }

  discard(): void {
    this.chunks = undefined;
  }

  data(chunk: Buffer): void {
    if (!this.chunks) return;
    this.size += chunk.length;
    if (this.size > REPLY_BODY_MAX) {
      this.chunks = undefined;
      this.end(undefined);
      this.abort();
      return;
    }
    this.chunks.push(chunk);
  }

  end(body: Buffer | undefined): void {
    if (this.ended !== null) return;
    this.ended = body;
    this.settle?.(body);
  }

  complete(): void {
    this.end(this.chunks ? Buffer.concat(this.chunks) : undefined);
  }
}

/**
 * One exchange, as an undici dispatch handler (the callback API undici's client calls
 * directly; the newer controller API is wrapped around it). Fields instead of closures: this
 * object is the only per-request allocation of the forwarder besides the header lists.
 */
class Exchange implements Dispatcher.DispatchHandler {
  private abortUpstream?: (err?: Error) => void;
  private clientGone = false;
  private reply?: Reply;
  private started = 0;
  private retried = false;
  private target?: UpstreamTarget;
  /** Addresses that refused this request (each tried at most once). */
  private refusals = 0;
  private settled = false;
  private timer?: NodeJS.Timeout;
  /** Runs while the request waits in the pool's queue for a connection. */
  private queueTimer?: NodeJS.Timeout;
  private bodySource?: PassThrough;
  /** The body's chunks while no connection has taken the request (see streamBody). */
  private early?: Buffer[];
  private bodyEnded = false;
  private resume?: () => void;
  /** Response chunks gathered in this tick, written together (see onData). */
  private pending?: Buffer[];
  private pendingBytes = 0;
  private written = 0;
  /** An error to abort with once undici hands over the connection (timed out while queued). */
  private pendingAbort?: Error;

  constructor(
    private readonly f: ForwardRequest,
    private readonly headers: RawHeaders,
    private readonly finish: Finish,
  ) {}

  dispatch(): void {
    const f = this.f;
    this.started = performance.now();
    let body: PassThrough | Buffer | null = null;
    if (f.hasBody) body = f.body ?? this.bodySource ?? this.streamBody();
    const target = f.upstream.pick();
    this.target = target;
    const free = target.dispatcher.dispatch(
      {
        path: f.path,
        method: f.method as Dispatcher.HttpMethod,
        headers: f.hostPerTarget ? withHost(this.headers, target.upstream.host) : this.headers,
        body,
        // A streamed body: the response timeout is an idle timeout refreshed by every chunk
        // (ours, below), so a long upload is not cut by a headers deadline.
        headersTimeout: body instanceof PassThrough ? 0 : f.responseTimeoutMs,
        bodyTimeout: f.responseTimeoutMs,
      },
      this,
    );
    // undici's own timeouts start once a connection is assigned: a request queued behind a
    // busy pool (dispatch says so by returning false) would wait with no deadline. It gets the
    // response deadline for the wait. A request that got a connection arms nothing.
    if (!free && this.abortUpstream === undefined && !this.settled)
      this.queueTimer ??= setTimeout(() => this.queuedTooLong(), f.responseTimeoutMs);
  }

  private streamBody(): PassThrough {
    const { req, res, stats, memoryGuard } = this.f;
    // Expect: 100-continue — the request passed authentication: now the body is wanted.
    continueOnce(req, res);
    // A pass-through, so that undici ending or destroying its body never destroys the client's
    // socket: authgate still answers (a 502, say) on it.
    const source = new PassThrough();
    this.bodySource = source;
    // Until a connection takes the request, the chunks are kept too: an address that refuses
    // the connection has read nothing, and the next one gets the body from the start.
    this.early = [];
    this.idle();
    // Chunks parsed from one read of the client's socket go upstream as one write: a client
    // sending 1-byte chunks would otherwise cost a write (and a chunk header) per byte. Node's
    // HTTP parser hands each body chunk over in a callback of its own (ticks run between them),
    // so the batch is flushed by setImmediate, once the whole read has been parsed.
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = (): void => {
      const chunks = pending;
      pending = [];
      pendingBytes = 0;
      const to = this.bodySource;
      if (chunks.length === 0 || to === undefined || to.destroyed) return;
      const chunk = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
      this.early?.push(chunk);
      if (!to.write(chunk)) {
        req.pause();
        to.once('drain', () => req.resume());
      }
    };
    req.on('data', (chunk: Buffer) => {
      stats.bytesIn += chunk.length;
      memoryGuard?.count(chunk.length);
      this.timer?.refresh();
      if (pendingBytes === 0) setImmediate(flush);
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= COALESCE_MAX) flush();
    });
    req.once('end', () => {
      flush();
      this.bodyEnded = true;
      this.bodySource?.end();
    });
    return source;
  }

  /**
   * The body again for another address, from the chunks kept while no connection had taken the
   * request; undefined once one had (its bytes may have been sent).
   */
  private restartBody(): PassThrough | undefined {
    const early = this.early;
    if (early === undefined) return undefined;
    const source = new PassThrough();
    for (const chunk of early) source.write(chunk);
    if (this.bodyEnded) source.end();
    this.bodySource = source;
    // The old body's drain will never come: the new one pushes back on its own.
    this.f.req.resume();
    return source;
  }

  /** The idle timeout of a streamed upload, until the response headers arrive. */
  private idle(): void {
    const { responseTimeoutMs } = this.f;
    this.timer = setTimeout(() => {
      const err = codedError(RESPONSE_TIMEOUT, 'upstream response timeout');
      if (this.abortUpstream) this.abortUpstream(err);
      else this.pendingAbort = err;
    }, responseTimeoutMs);
  }

  private stopIdle(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  clientClosed(): void {
    this.clientGone = true;
    this.stopIdle();
    this.abortUpstream?.();
  }

  /** No connection came free within the deadline: 504, and never sent once one does. */
  private queuedTooLong(): void {
    this.queueTimer = undefined;
    const err = codedError(QUEUE_TIMEOUT, 'upstream pool queue timeout');
    this.pendingAbort = err;
    this.bodySource?.destroy();
    this.finish(upstreamError(err));
  }

  onConnect(abort: (err?: Error) => void): void {
    this.early = undefined;
    if (this.queueTimer) clearTimeout(this.queueTimer);
    this.queueTimer = undefined;
    this.abortUpstream = abort;
    if (this.clientGone) abort();
    else if (this.pendingAbort) abort(this.pendingAbort);
  }

  onHeaders(
    statusCode: number,
    rawHeaders: Buffer[],
    resume: () => void,
    statusText: string,
  ): boolean {
    // 1xx informational responses (103 Early Hints ...) are not relayed.
    if (statusCode < 200) return true;
    this.stopIdle();
    const f = this.f;
    const { res, stats } = f;
    stats.upstreamMs = performance.now() - this.started;
    if (!SAFE_REASON.test(statusText)) {
      // A reason phrase authgate could not even write back (control characters, text outside
      // Latin-1) marks a broken upstream: this request gets a typed 502, nothing else.
      this.finish(upstreamError(codedError('HPE_INVALID_STATUS', 'upstream reason phrase')));
      this.abortUpstream?.();
      return false;
    }
    if (this.target) f.upstream.answered(this.target);
    const raw = latin1(rawHeaders);
    if (f.replaceResponse && f.replaceStatuses?.has(statusCode)) {
      // The access line still says what the upstream answered.
      stats.upstreamStatus = statusCode;
      const reply = new Reply(statusCode, raw, () => this.abortUpstream?.());
      this.reply = reply;
      void f.replaceResponse(reply).then(this.finish, () => this.finish(upstreamError(undefined)));
      return true;
    }
    const headers = stripHopByHop(raw, { drop: f.dropResponseHeaders });
    if (f.rewriteLocation) {
      for (let i = 0; i < headers.length; i += 2) {
        if ((headers[i] as string).toLowerCase() === 'location') {
          headers[i + 1] = f.rewriteLocation(headers[i + 1] as string);
        }
      }
    }
    for (let i = 0; i < f.responseHeaders.length; i++) headers.push(f.responseHeaders[i] as string);
    if (f.closeConnection()) headers.push('Connection', 'close');
    try {
      // The reason phrase is never the upstream's: Node writes the standard one for the status.
      res.writeHead(statusCode, headers);
    } catch (err) {
      res.statusMessage = '';
      // Settled first, so the abort's own error is not reported in place of this one.
      this.finish(upstreamError(Object.assign(err as Error, { code: 'ERR_INVALID_CHAR' })));
      this.abortUpstream?.();
      return false;
    }
    stats.upstreamStatus = statusCode;
    this.resume = resume;
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.reply) {
      this.reply.data(chunk);
      return true;
    }
    const f = this.f;
    f.stats.bytesOut += chunk.length;
    f.memoryGuard?.count(chunk.length);
    // The chunks undici parses from one read of the upstream's socket (all in one call, so
    // within one tick) go to the client as one write: an upstream sending 1-byte chunks would
    // otherwise cost a write (and a chunk header) per byte. A response's first chunk, and any
    // once the batch is large or the client is slow, is written at once.
    if (this.pending === undefined) {
      if (this.written++ === 0 || f.res.writableNeedDrain) return this.write(chunk);
      this.pending = [chunk];
      this.pendingBytes = chunk.length;
      process.nextTick(flushResponse, this);
      return true;
    }
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    return this.pendingBytes >= COALESCE_MAX ? this.flush() : true;
  }

  /** Writes what was gathered; false when the client pushes back (undici then pauses). */
  flush(): boolean {
    const chunks = this.pending;
    this.pending = undefined;
    this.pendingBytes = 0;
    if (chunks === undefined || this.settled || this.f.res.destroyed) return true;
    return this.write(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
  }

  private write(chunk: Buffer): boolean {
    const res = this.f.res;
    if (res.write(chunk)) return true;
    // Backpressure from the client: undici pauses reading until the response drains.
    if (this.resume) res.once('drain', this.resume);
    return false;
  }

  onComplete(): void {
    this.stopIdle();
    if (this.reply) {
      this.reply.complete();
      return;
    }
    this.flush();
    this.f.res.end(() => this.finish());
  }

  onError(err: Error): void {
    this.stopIdle();
    const refused = this.refusedAddress(err);
    this.bodySource?.destroy();
    this.bodySource = undefined;
    if (this.reply) {
      this.reply.end(undefined);
      return;
    }
    if (this.clientGone || this.settled) return;
    const f = this.f;
    if (f.res.headersSent) {
      // Broke off mid-response: the client must see a cut, never a clean but short body.
      f.stats.aborted = true;
      f.res.destroy();
      this.finish();
      return;
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (refused) {
      // Nothing reached this address: the next one takes the request, body and all.
      this.abortUpstream = undefined;
      if (f.hasBody && f.body === undefined) this.bodySource = this.restartBody();
      this.dispatch();
      return;
    }
    if (
      !this.retried &&
      !f.hasBody &&
      code !== undefined &&
      RESET_CODES.has(code) &&
      IDEMPOTENT.has(f.method)
    ) {
      this.retried = true;
      this.abortUpstream = undefined;
      this.dispatch();
      return;
    }
    this.finish(upstreamError(err));
  }

  /**
   * The address refused the connection (the balancer leaves it out): true when another one may
   * take the request — its body, if any, can be sent again.
   */
  private refusedAddress(err: Error): boolean {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === undefined || !REFUSED_CODES.has(code) || !this.target) return false;
    if (this.reply || this.clientGone || this.settled || this.f.res.headersSent) return false;
    const another = this.f.upstream.refused(this.target);
    const bodyAgain = !this.f.hasBody || this.f.body !== undefined || this.early !== undefined;
    return another && bodyAgain && ++this.refusals < 64;
  }

  markSettled(): void {
    this.settled = true;
    this.stopIdle();
    if (this.queueTimer) clearTimeout(this.queueTimer);
    this.queueTimer = undefined;
  }
}

/**
 * Forwards `f.req` and resolves when the client response has ended; rejects with
 * `ForwardFailure` when nothing was sent yet, so the caller can answer a typed error.
 */
export function forward(f: ForwardRequest): Promise<void> {
  const { req, res } = f;
  return new Promise<void>((resolve, reject) => {
    let exchange: Exchange | undefined = undefined;
    const finish: Finish = (err) => {
      if (exchange === undefined) return;
      const ex = exchange;
      exchange = undefined;
      ex.markSettled();
      res.off('close', onClientGone);
      req.off('error', onClientGone);
      if (err === RETRY) reject(new ForwardRetry());
      else if (err) reject(new ForwardFailure(err));
      else resolve();
    };
    const onClientGone = (): void => {
      if (res.writableFinished || exchange === undefined) return;
      f.stats.aborted = true;
      exchange.clientClosed();
      finish();
    };
    exchange = new Exchange(f, dispatchHeaders(f.headers), finish);
    res.once('close', onClientGone);
    req.once('error', onClientGone);
    exchange.dispatch();
  });
}
