/**
 * X-Forwarded-* rules (docs/design.md#headers): extended only when the peer is a trusted proxy (the ALB),
 * replaced otherwise, so a direct caller cannot forge its address, scheme or host.
 */
import { BlockList, isIP, isIPv4 } from 'node:net';
import { headerValues, type RawHeaders } from './hop-by-hop';

export const FORWARDED_HEADERS: ReadonlySet<string> = new Set([
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
]);

/** `::ffff:10.0.0.1` → `10.0.0.1`; other addresses unchanged. */
export function normalizeIp(address: string | undefined): string {
  if (!address) return '';
  if (address.startsWith('::ffff:') && isIPv4(address.slice(7))) return address.slice(7);
  return address;
}

/** A compiled CIDR list; `has` takes any textual address. */
export class NetworkList {
  private readonly list = new BlockList();
  readonly empty: boolean;

  constructor(cidrs: readonly string[]) {
    this.empty = cidrs.length === 0;
    for (const cidr of cidrs) {
      const [addr, bits] = cidr.split('/') as [string, string | undefined];
      const type = isIPv4(addr) ? 'ipv4' : 'ipv6';
      if (bits === undefined) this.list.addAddress(addr, type);
      else this.list.addSubnet(addr, Number(bits), type);
    }
  }

  has(address: string): boolean {
    if (this.empty || address === '') return false;
    return this.list.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
  }
}

export interface ForwardedContext {
  peerIp: string;
  trusted: boolean;
  /** Scheme and port of the listener the request arrived on. */
  proto: 'http' | 'https';
  localPort: number;
  host: string | undefined;
}

/** Appends the X-Forwarded-* headers for `ctx` to `out` (which must no longer contain any). */
export function appendForwardedHeaders(
  out: RawHeaders,
  original: RawHeaders,
  ctx: ForwardedContext,
): void {
  if (ctx.trusted) {
    const chain = headerValues(original, 'x-forwarded-for');
    chain.push(ctx.peerIp);
    out.push('X-Forwarded-For', chain.join(', '));
    const proto = headerValues(original, 'x-forwarded-proto')[0];
    out.push('X-Forwarded-Proto', proto ?? ctx.proto);
    const host = headerValues(original, 'x-forwarded-host')[0] ?? ctx.host;
    if (host !== undefined) out.push('X-Forwarded-Host', host);
    const port = headerValues(original, 'x-forwarded-port')[0];
    out.push('X-Forwarded-Port', port ?? String(ctx.localPort));
    return;
  }
  out.push('X-Forwarded-For', ctx.peerIp);
  out.push('X-Forwarded-Proto', ctx.proto);
  if (ctx.host !== undefined) out.push('X-Forwarded-Host', ctx.host);
  out.push('X-Forwarded-Port', String(ctx.localPort));
}

/**
 * The client address for logs and IP rate limits: the right-most address in the chain that is
 * not itself a trusted proxy (what the ALB saw), or the peer when the peer is not trusted.
 */
export function clientIp(original: RawHeaders, peerIp: string, trusted: NetworkList): string {
  if (!trusted.has(peerIp)) return peerIp;
  const chain = headerValues(original, 'x-forwarded-for')
    .join(',')
    .split(',')
    .map((s) => normalizeIp(s.trim()))
    // Only addresses: a non-IP entry ("unknown", "evil") is never taken as the client.
    .filter((s) => isIP(s) !== 0);
  for (let i = chain.length - 1; i >= 0; i--) {
    const ip = chain[i] as string;
    if (!trusted.has(ip)) return ip;
  }
  return chain[0] ?? peerIp;
}
