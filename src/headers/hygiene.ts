/**
 * Request header checks that need no route or principal (DESIGN §5): ambiguous credentials
 * and identity headers are refused before anything else looks at them.
 */
import { AuthgateError } from '../errors';
import type { RawHeaders } from './hop-by-hop';

/** Identity headers whose underscore spelling (X_User_ID) some servers fold into the real one. */
const UNDERSCORE_GUARDED = new Set(['x-user-id', 'x-tenant-id', 'x-request-id', 'x-api-key']);
/** Headers whose repeated, different values would let two parties see two identities. */
const SINGLE_VALUED = new Set(['x-user-id', 'x-tenant-id']);

function bad(message: string, reason: string): AuthgateError {
  return new AuthgateError('BAD_REQUEST', { message, reason, bearerError: undefined });
}

export function checkHeaderHygiene(
  raw: RawHeaders,
  extraUnderscoreGuarded?: ReadonlySet<string>,
): void {
  let authorizations = 0;
  const seen = new Map<string, string>();
  for (let i = 0; i < raw.length; i += 2) {
    const lower = (raw[i] as string).toLowerCase();
    if (lower === 'authorization') {
      if (++authorizations > 1)
        throw bad('Only one Authorization header is allowed.', 'duplicate_authorization');
      continue;
    }
    if (lower.includes('_')) {
      const dashed = lower.replace(/_/g, '-');
      if (UNDERSCORE_GUARDED.has(dashed) || extraUnderscoreGuarded?.has(dashed)) {
        throw bad('Identity headers must be spelled with "-", not "_".', 'underscore_header');
      }
      continue;
    }
    if (SINGLE_VALUED.has(lower)) {
      const value = raw[i + 1] as string;
      const previous = seen.get(lower);
      if (previous !== undefined && previous !== value) {
        throw bad(
          `Conflicting ${lower === 'x-user-id' ? 'X-User-ID' : 'X-Tenant-ID'} headers.`,
          'duplicate_identity',
        );
      }
      seen.set(lower, value);
    }
  }
}
