import { randomUUID } from 'node:crypto';
import { headerValues, type RawHeaders } from './hop-by-hop';

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function isSaneRequestId(value: string): boolean {
  return SANE_REQUEST_ID.test(value);
}

export interface RequestIdDecision {
  requestId: string;
  /** True when the client's own header is forwarded as it arrived. */
  kept: boolean;
}

/**
 * Keeps a single sane X-Request-ID (DESIGN §5), otherwise makes a new UUID. Several values are
 * never "sane": the upstream, the logs and the client must agree on one id.
 */
export function decideRequestId(raw: RawHeaders): RequestIdDecision {
  const values = headerValues(raw, 'x-request-id');
  if (values.length === 1 && isSaneRequestId(values[0] as string)) {
    return { requestId: values[0] as string, kept: true };
  }
  return { requestId: randomUUID(), kept: false };
}
