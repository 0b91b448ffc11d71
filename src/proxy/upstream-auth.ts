/**
 * Upstream 401/403 → typed errors (docs/design.md#typed-errors): `UPSTREAM_UNAUTHENTICATED` / `UPSTREAM_FORBIDDEN`
 * with `origin: "upstream"`. A JSON body's `error_code`/`message` are kept under `upstream`;
 * HTML, empty (also compressed-empty) and unreadable bodies are never passed on.
 */
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { AuthgateError } from '../errors';
import { REPLY_BODY_MAX, type UpstreamReply } from './forward';

export const UPSTREAM_AUTH_STATUSES: ReadonlySet<number> = new Set([401, 403]);
const MAX_BODY = REPLY_BODY_MAX;
const MAX_FIELD = 512;

function decode(body: Buffer, encoding: string | undefined): Buffer | undefined {
  const opts = { maxOutputLength: MAX_BODY };
  try {
    switch ((encoding ?? 'identity').trim().toLowerCase()) {
      case 'identity':
      case '':
        return body;
      case 'gzip':
      case 'x-gzip':
        return body.length === 0 ? body : gunzipSync(body, opts);
      case 'deflate':
        return body.length === 0 ? body : inflateSync(body, opts);
      case 'br':
        return body.length === 0 ? body : brotliDecompressSync(body, opts);
      default:
        return undefined;
    }
  } catch {
    return undefined;
  }
}

function field(value: unknown, scrub: (s: string) => string): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  return scrub(value.slice(0, MAX_FIELD));
}

/** The upstream's own JSON error fields, when its body is a JSON object that has them. */
export function upstreamErrorFields(
  body: Buffer | undefined,
  contentType: string | undefined,
  encoding: string | undefined,
  scrub: (s: string) => string,
): { error_code?: string; message?: string } | undefined {
  if (!body || !contentType || !/[/+]json\b/i.test(contentType)) return undefined;
  const decoded = decode(body, encoding);
  if (!decoded || decoded.length === 0) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoded.toString('utf8'));
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const obj = parsed as Record<string, unknown>;
  const out: { error_code?: string; message?: string } = {};
  const code = field(obj.error_code, scrub);
  const message = field(obj.message, scrub);
  if (code !== undefined) out.error_code = code;
  if (message !== undefined) out.message = message;
  return code === undefined && message === undefined ? undefined : out;
}

export async function upstreamAuthError(
  reply: UpstreamReply,
  scrub: (s: string) => string,
): Promise<AuthgateError> {
  const body = await reply.body();
  const upstream = upstreamErrorFields(
    body,
    reply.header('content-type'),
    reply.header('content-encoding'),
    scrub,
  );
  const status = reply.statusCode;
  return new AuthgateError(status === 401 ? 'UPSTREAM_UNAUTHENTICATED' : 'UPSTREAM_FORBIDDEN', {
    origin: 'upstream',
    reason: `upstream_${status}`,
    upstream,
  });
}
