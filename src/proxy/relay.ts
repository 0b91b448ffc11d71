/**
 * The response relay: the upstream's status and raw headers go back to the client with the
 * hop-by-hop and Connection-listed names removed before authgate adds its own; the body is
 * piped with backpressure; an upstream that breaks off mid-body cuts the client too (never a
 * clean but short body). Statuses authgate answers itself (upstream 401/403) are handed to
 * `replaceResponse` instead.
 */
import type { IncomingMessage } from 'node:http';
import type { AuthgateError } from '../errors';
import { stripHopByHop } from '../headers/hop-by-hop';
import type { ForwardRequest, RETRY } from './forward';
import { upstreamError } from './upstream-error';

export function relayResponse(
  proxyRes: IncomingMessage,
  f: ForwardRequest,
  finish: (err?: AuthgateError | typeof RETRY) => void,
): void {
  const { res, stats: result } = f;
  if (f.replaceResponse && f.replaceStatuses?.has(proxyRes.statusCode ?? 0)) {
    // The access line still says what the upstream answered (issue 12.2).
    result.upstreamStatus = proxyRes.statusCode;
    void f.replaceResponse(proxyRes).then((err) => finish(err));
    return;
  }
  const headers = stripHopByHop(proxyRes.rawHeaders, { drop: f.dropResponseHeaders });
  if (f.rewriteLocation) {
    for (let i = 0; i < headers.length; i += 2) {
      if ((headers[i] as string).toLowerCase() === 'location') {
        headers[i + 1] = f.rewriteLocation(headers[i + 1] as string);
      }
    }
  }
  headers.push(...f.responseHeaders);
  if (f.closeConnection()) headers.push('Connection', 'close');
  try {
    res.writeHead(proxyRes.statusCode ?? 502, proxyRes.statusMessage, headers);
  } catch (err) {
    proxyRes.resume();
    finish(upstreamError(Object.assign(err as Error, { code: 'ERR_INVALID_CHAR' })));
    return;
  }
  result.upstreamStatus = proxyRes.statusCode;
  proxyRes.on('data', (chunk: Buffer) => {
    result.bytesOut += chunk.length;
    f.memoryGuard?.count(chunk.length);
  });
  const cut = (): void => {
    result.aborted = true;
    res.destroy();
    finish();
  };
  proxyRes.on('error', cut);
  proxyRes.on('aborted', cut);
  res.once('finish', () => finish());
  proxyRes.pipe(res);
}
