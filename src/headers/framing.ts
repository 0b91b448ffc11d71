/**
 * Request body framing (docs/design.md#headers). `Transfer-Encoding` is hop-by-hop and is removed
 * before forwarding, and node's client adds no framing of its own to GET, HEAD, DELETE or
 * OPTIONS: a chunked body on those methods would reach the upstream unframed and be parsed
 * there as a second request that authgate never checked. So the framing of every request is
 * decided here, once, and the forward stage always re-frames the body itself.
 */
import { AuthgateError } from '../errors';
import type { RawHeaders } from './hop-by-hop';

export type BodyFraming =
  | { readonly kind: 'none' }
  | { readonly kind: 'length'; readonly length: number }
  | { readonly kind: 'chunked' };

const NONE: BodyFraming = { kind: 'none' };
const CHUNKED: BodyFraming = { kind: 'chunked' };

function refuse(message: string, reason: string): AuthgateError {
  return new AuthgateError('BAD_REQUEST', { message, reason });
}

/**
 * How the client framed its body. Only two framings are accepted: one `Content-Length` (repeats
 * must agree), or exactly `Transfer-Encoding: chunked` without a `Content-Length`. Any other
 * transfer coding is refused (400): the body would otherwise reach the upstream with codings
 * it was never told about.
 */
export function requestFraming(raw: RawHeaders): BodyFraming {
  let length: string | undefined;
  let transferEncoding: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length !== 14 && name.length !== 17) continue;
    const lower = name.toLowerCase();
    const value = (raw[i + 1] as string).trim();
    if (lower === 'content-length') {
      for (const part of value.split(',')) {
        const v = part.trim();
        if (!/^\d{1,15}$/.test(v)) throw refuse('Content-Length is not a number.', 'bad_length');
        if (length !== undefined && Number(length) !== Number(v))
          throw refuse('Conflicting Content-Length headers.', 'conflicting_length');
        length = v;
      }
    } else if (lower === 'transfer-encoding') {
      if (transferEncoding !== undefined)
        throw refuse('Only one Transfer-Encoding header is allowed.', 'duplicate_te');
      transferEncoding = value.toLowerCase();
    }
  }
  if (transferEncoding !== undefined) {
    if (transferEncoding !== 'chunked')
      throw refuse('Only "Transfer-Encoding: chunked" is supported.', 'unsupported_te');
    if (length !== undefined)
      throw refuse(
        'Content-Length and Transfer-Encoding must not be combined.',
        'ambiguous_framing',
      );
    return CHUNKED;
  }
  if (length === undefined) return NONE;
  const n = Number(length);
  return n === 0 ? NONE : { kind: 'length', length: n };
}

/** True when a body follows the headers. */
export function hasBody(framing: BodyFraming): boolean {
  return framing.kind !== 'none';
}
