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

/** `Root=1-5759e988-bd862e3fe1be46a994272793` of an ALB's X-Amzn-Trace-Id, when sane. */
export function traceRoot(raw: RawHeaders): string | undefined {
  const values = headerValues(raw, 'x-amzn-trace-id');
  if (values.length !== 1) return undefined;
  for (const field of (values[0] as string).split(';')) {
    const eq = field.indexOf('=');
    if (eq !== -1 && field.slice(0, eq).trim() === 'Root') {
      const root = field.slice(eq + 1).trim();
      return isSaneRequestId(root) ? root : undefined;
    }
  }
  return undefined;
}

/**
 * Keeps a single sane X-Request-ID (docs/design.md#headers); otherwise takes the `Root=` of the ALB's
 * X-Amzn-Trace-Id, so authgate's logs join the ALB's access logs; otherwise a new UUID. Several
 * values are never "sane": the upstream, the logs and the client must agree on one id.
 */
export function decideRequestId(raw: RawHeaders): RequestIdDecision {
  const values = headerValues(raw, 'x-request-id');
  if (values.length === 1 && isSaneRequestId(values[0] as string)) {
    return { requestId: values[0] as string, kept: true };
  }
  return { requestId: traceRoot(raw) ?? randomUUID(), kept: false };
}
