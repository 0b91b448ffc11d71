/**
 * WebSocket upgrades: only after the request passed the same
 * authentication and authorisation as any other, and only on routes with `ws: true`. The
 * upstream's 101 (with its raw headers) is relayed, then bytes flow both ways untouched.
 */
import { STATUS_CODES } from 'node:http';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { upstreamServerName, type UpstreamTlsOptions } from './agents';
import type { Duplex } from 'node:stream';
import { stripHopByHop, type RawHeaders } from '../headers/hop-by-hop';
import { REFUSED_CODES, type UpstreamChooser, type UpstreamTarget } from './balancer';
import { ForwardFailure, withHost } from './forward';
import { CONNECT_TIMEOUT, codedError, upstreamError } from './upstream-error';

export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return (req.headers.upgrade ?? '').toLowerCase() === 'websocket' && req.method === 'GET';
}

export interface UpgradeRequest {
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  /** The route's addresses: one is picked; one that refuses is left out and the next tried. */
  upstream: UpstreamChooser;
  /** Set `Host` to the picked upstream's (several upstream hosts, preserveHost off). */
  hostPerTarget?: boolean;
  path: string;
  headers: RawHeaders;
  connectTimeoutMs: number;
  responseHeaders: RawHeaders;
  /** The route's upstream TLS (CA, client certificate, server name). */
  tls?: UpstreamTlsOptions;
}

function statusBlock(status: number, message: string, raw: RawHeaders): string {
  let out = `HTTP/1.1 ${status} ${message}\r\n`;
  for (let i = 0; i < raw.length; i += 2) out += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return out + '\r\n';
}

/** Resolves with the status relayed to the client (101 when the tunnel was opened). */
export async function proxyUpgrade(u: UpgradeRequest): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const target = u.upstream.pick();
    try {
      const status = await upgradeTo(u, target);
      u.upstream.answered(target);
      return status;
    } catch (err) {
      const code = err instanceof ForwardFailure ? err.error.cause : undefined;
      const errno = (code as NodeJS.ErrnoException | undefined)?.code;
      if (errno === undefined || !REFUSED_CODES.has(errno)) throw err;
      if (!u.upstream.refused(target) || attempt >= 63) throw err;
    }
  }
}

function upgradeTo(u: UpgradeRequest, target: UpstreamTarget): Promise<number> {
  const upstream = target.upstream;
  const send = upstream.protocol === 'https:' ? httpsRequest : httpRequest;
  const headers = u.hostPerTarget ? withHost(u.headers, upstream.host) : u.headers;
  return new Promise((resolve, reject) => {
    const proxyReq = send({
      protocol: upstream.protocol,
      hostname: target.address ?? upstream.hostname,
      port: upstream.port,
      method: 'GET',
      path: u.path,
      headers,
      agent: false,
      setHost: false,
      ...(u.tls
        ? { ...u.tls, rejectUnauthorized: true, servername: upstreamServerName(upstream, u.tls) }
        : {}),
    });
    const timer = setTimeout(
      () => proxyReq.destroy(codedError(CONNECT_TIMEOUT, 'upstream connect timeout')),
      u.connectTimeoutMs,
    );
    proxyReq.on('error', (err) => {
      clearTimeout(timer);
      reject(new ForwardFailure(upstreamError(err)));
    });
    proxyReq.on('upgrade', (proxyRes, proxySocket, proxyHead) => {
      clearTimeout(timer);
      const headers = stripHopByHop(proxyRes.rawHeaders, { keepUpgrade: true });
      headers.push(...u.responseHeaders);
      u.socket.write(statusBlock(101, 'Switching Protocols', headers));
      if (proxyHead.length > 0) u.socket.write(proxyHead);
      if (u.head.length > 0) proxySocket.write(u.head);
      proxySocket.on('error', () => u.socket.destroy());
      u.socket.on('error', () => proxySocket.destroy());
      proxySocket.on('close', () => u.socket.destroy());
      u.socket.on('close', () => proxySocket.destroy());
      proxySocket.pipe(u.socket).pipe(proxySocket);
      resolve(101);
    });
    // The upstream declined the upgrade: relay its answer as a plain response.
    proxyReq.on('response', (proxyRes) => {
      clearTimeout(timer);
      const headers = stripHopByHop(proxyRes.rawHeaders);
      headers.push(...u.responseHeaders, 'Connection', 'close');
      const status = proxyRes.statusCode ?? 502;
      // The standard reason phrase, never the upstream's text.
      u.socket.write(statusBlock(status, STATUS_CODES[status] ?? '', headers));
      proxyRes.pipe(u.socket);
      resolve(proxyRes.statusCode ?? 502);
    });
    proxyReq.end();
  });
}
