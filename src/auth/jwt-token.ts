/**
 * A JWT's parts as authgate reads them before and after verification: decoding a segment, the
 * typed refusals, the mapping of jsonwebtoken's error classes, the audience rule, and what the
 * audit line says about a refused token.
 */
import jwt, { type JwtPayload } from 'jsonwebtoken';
import { AuthgateError } from '../errors';
import { fingerprint } from '../logging/mask';

export function invalid(reason: string, message?: string): AuthgateError {
  return new AuthgateError('TOKEN_INVALID', { bearerError: 'invalid_token', reason, message });
}

export interface TokenHeader {
  alg?: unknown;
  kid?: unknown;
  crit?: unknown;
}

export function decodeSegment<T>(segment: string): T {
  try {
    return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as T;
  } catch {
    throw invalid('malformed');
  }
}

export function mapVerifyError(err: unknown): AuthgateError {
  if (err instanceof AuthgateError) return err;
  if (err instanceof jwt.TokenExpiredError) {
    return new AuthgateError('TOKEN_EXPIRED', { bearerError: 'invalid_token', reason: 'expired' });
  }
  if (err instanceof jwt.NotBeforeError) {
    return new AuthgateError('TOKEN_NOT_YET_VALID', {
      bearerError: 'invalid_token',
      reason: 'not_before',
    });
  }
  // Shape, header, algorithm and key were checked before jwt.verify, and audience and issuer are
  // checked after it: what jsonwebtoken can still refuse is the signature.
  if (err instanceof jwt.JsonWebTokenError)
    return invalid('bad_signature', 'The token signature is invalid.');
  return invalid('malformed');
}

/** `aud` (a string or a list) must name one of the accepted audiences, when any are set. */
export function audienceAccepted(
  claim: unknown,
  accepted: string | readonly string[] | undefined,
): boolean {
  if (accepted === undefined) return true;
  const wanted = typeof accepted === 'string' ? [accepted] : accepted;
  const given = Array.isArray(claim) ? (claim as unknown[]) : [claim];
  return given.some((a) => typeof a === 'string' && wanted.includes(a));
}

/**
 * What the audit line needs to explain a refused token, from its unverified parts: never the
 * token, only a fingerprint of it. Never throws (the token may be anything).
 */
export function explainRefusedToken(token: string, nowSec: number): Record<string, unknown> {
  const [h = '', p = ''] = token.split('.');
  const part = <T>(segment: string): T | undefined => {
    try {
      return decodeSegment<T>(segment);
    } catch {
      return undefined;
    }
  };
  const header = part<TokenHeader>(h);
  const payload = part<JwtPayload>(p);
  const text = (v: unknown): string | undefined =>
    typeof v === 'string' ? v.slice(0, 256) : undefined;
  const exp = typeof payload?.exp === 'number' ? payload.exp : undefined;
  const aud = payload?.aud;
  return {
    token_fingerprint: fingerprint(token),
    issuer: text(payload?.iss),
    kid: text(header?.kid),
    alg: text(header?.alg),
    aud: Array.isArray(aud) ? aud.slice(0, 8).map(text) : text(aud),
    expired_sec_ago: exp !== undefined && exp < nowSec ? Math.round(nowSec - exp) : undefined,
  };
}
