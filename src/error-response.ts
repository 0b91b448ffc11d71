/**
 * The only place that writes an error response (docs/design.md#typed-errors). The body never echoes the URL,
 * query, Host, headers or a credential: it is built from the typed error alone.
 */
import { STATUS_CODES } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { AuthgateError, errorBody, type ErrorStyle } from './errors';

export function requestHasBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  return (cl !== undefined && cl !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/** Every 401 gets a challenge; a 403 for a missing scope too (RFC 6750 §3.1). */
export function wwwAuthenticate(err: AuthgateError): string | undefined {
  if (err.status !== 401 && err.bearerError !== 'insufficient_scope') return undefined;
  if (!err.bearerError) return 'Bearer realm="authgate"';
  const description = err.message.replace(/["\\]/g, '');
  return `Bearer realm="authgate", error="${err.bearerError}", error_description="${description}"`;
}

export interface ErrorResponseOptions {
  requestId: string;
  /** Close the connection afterwards (draining, or an unread request body). */
  close?: boolean;
  /** The route's error style (docs/design.md#typed-errors); authgate when absent. */
  style?: ErrorStyle;
}

/** The metrics listener's answer to anything but its scrape path: the same typed 404. */
export function sendNotFound(req: IncomingMessage, res: ServerResponse): void {
  sendError(req, res, new AuthgateError('ROUTE_NOT_FOUND', { reason: 'no_route' }), {
    requestId: randomUUID(),
  });
}

/** Writes the typed error; returns the body bytes sent (for the access line). */
export function sendError(
  req: IncomingMessage,
  res: ServerResponse,
  err: AuthgateError,
  options: ErrorResponseOptions,
): number {
  if (res.headersSent) {
    res.destroy();
    return 0;
  }
  if (err.redirect) return sendRedirect(req, res, err, options);
  const page = err.page && acceptsHtml(req);
  const body = page
    ? errorPage(err, options.requestId)
    : JSON.stringify(errorBody(err, options.requestId, options.style));
  const headers: Record<string, string | number | string[]> = {
    'Content-Type': page ? 'text/html; charset=utf-8' : 'application/json',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    'X-Request-ID': options.requestId,
    ...err.headers,
  };
  const challenge = wwwAuthenticate(err);
  if (challenge) headers['WWW-Authenticate'] = challenge;
  if (err.cookies.length > 0) headers['Set-Cookie'] = [...err.cookies];
  // A body we did not read would otherwise be drained to keep the connection alive.
  if (options.close || (requestHasBody(req) && !req.complete)) headers.Connection = 'close';
  // Always the standard reason phrase: never one a failed earlier writeHead left behind.
  res.writeHead(err.status, STATUS_CODES[err.status] ?? 'Error', headers);
  res.end(req.method === 'HEAD' ? undefined : body);
  return req.method === 'HEAD' ? 0 : Buffer.byteLength(body);
}

function acceptsHtml(req: IncomingMessage): boolean {
  return /\btext\/html\b/i.test(req.headers.accept ?? '');
}

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** The short page a browser gets for a failed sign-in: the typed error, human-readable. */
function errorPage(err: AuthgateError, requestId: string): string {
  const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] as string);
  return (
    '<!doctype html><html><head><meta charset="utf-8"><title>' +
    esc(err.title) +
    '</title></head><body><h1>' +
    esc(err.title) +
    '</h1><p>' +
    esc(err.message) +
    '</p><p><code>' +
    esc(err.code) +
    '</code> · request <code>' +
    esc(requestId) +
    '</code></p><p><a href="/">Start again</a></p></body></html>'
  );
}

/** A browser navigation sent elsewhere (to sign in, or back after it). */
function sendRedirect(
  req: IncomingMessage,
  res: ServerResponse,
  err: AuthgateError,
  options: ErrorResponseOptions,
): number {
  const headers: Record<string, string | string[]> = {
    Location: err.redirect!.location,
    'Cache-Control': 'no-store',
    'X-Request-ID': options.requestId,
    'Content-Length': '0',
  };
  if (err.cookies.length > 0) headers['Set-Cookie'] = [...err.cookies];
  if (options.close || (requestHasBody(req) && !req.complete)) headers.Connection = 'close';
  res.writeHead(302, STATUS_CODES[302], headers);
  res.end();
  return 0;
}

/** The same typed error on a raw socket (refused upgrades, malformed requests), then close. */
export function sendErrorOnSocket(
  socket: Duplex,
  err: AuthgateError,
  requestId: string,
  head = false,
  style?: ErrorStyle,
): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify(errorBody(err, requestId, style));
  const lines = [
    `HTTP/1.1 ${err.status} ${err.title}`,
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Cache-Control: no-store',
    `X-Request-ID: ${requestId}`,
    'Connection: close',
  ];
  const challenge = wwwAuthenticate(err);
  if (challenge) lines.push(`WWW-Authenticate: ${challenge}`);
  for (const [k, v] of Object.entries(err.headers)) lines.push(`${k}: ${v}`);
  // HTTP sockets allow half-open; destroy once flushed so the connection is really gone.
  socket.end(lines.join('\r\n') + '\r\n\r\n' + (head ? '' : body), () => socket.destroy());
}
