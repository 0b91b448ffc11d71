/**
 * Headers only an AWS ALB may send (DESIGN §12, issue 14): its OIDC identity
 * (`x-amzn-oidc-data`, `-identity`, `-accesstoken`). From a peer outside
 * `server.trustedProxies` they are a forgery attempt and the request is refused (400) — they
 * are never trusted and never forwarded for an upstream to trust.
 */
import { AuthgateError } from '../errors';
import type { RawHeaders } from './hop-by-hop';

export const ALB_IDENTITY_HEADERS: readonly string[] = [
  'x-amzn-oidc-data',
  'x-amzn-oidc-identity',
  'x-amzn-oidc-accesstoken',
];

const PREFIX = 'x-amzn-oidc-';

export function refuseUntrustedAlbHeaders(raw: RawHeaders, peerTrusted: boolean): void {
  if (peerTrusted) return;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length > PREFIX.length && name.toLowerCase().startsWith(PREFIX)) {
      throw new AuthgateError('BAD_REQUEST', {
        message: 'x-amzn-oidc-* headers are only accepted from the load balancer.',
        reason: 'untrusted_alb_header',
      });
    }
  }
}
