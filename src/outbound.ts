/**
 * The one outbound HTTP client (docs/design.md, "Outbound calls"): every call authgate makes on
 * its own — JWKS and ALB key fetches, the API-key service, OAuth2 client credentials, registry
 * token exchanges, the CLI's admin and diagnose calls — goes through `outbound()`, with one
 * policy: a deadline on the whole call, redirects never followed (a redirect would carry a
 * credential or a lookup to wherever the answer points), and userinfo in a URL refused before
 * anything is sent (it would end up in an `Authorization` header nobody configured).
 */
import { SpanStatusCode } from '@opentelemetry/api';
import { fetch as undiciFetch, type Dispatcher } from 'undici';
import { SpanKind, activeSpan, withSpan } from './tracing/tracing';

export interface OutboundRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** The deadline for the whole call, response headers included. */
  timeoutMs: number;
  /** The name of its span in a traced request (e.g. "jwks fetch"). */
  span?: string;
  /** Connections with their own TLS (a CA, a client certificate): undici's fetch on this agent. */
  dispatcher?: Dispatcher;
}

/** The call could not be made as asked (a URL with credentials in it). */
export class OutboundRefused extends Error {
  readonly code = 'OUTBOUND_REFUSED';
}

export async function outbound(url: string, request: OutboundRequest): Promise<Response> {
  const target = new URL(url);
  if (target.username !== '' || target.password !== '') {
    throw new OutboundRefused('credentials in an outbound URL are not sent');
  }
  const method = request.method ?? 'GET';
  const init = {
    method,
    headers: request.headers,
    body: request.body,
    redirect: 'error' as const,
    signal: AbortSignal.timeout(request.timeoutMs),
  };
  const call = (): Promise<Response> =>
    request.dispatcher
      ? (undiciFetch(target, {
          ...init,
          dispatcher: request.dispatcher,
        }) as unknown as Promise<Response>)
      : fetch(target, init);
  if (!activeSpan()) return call();
  // In a traced request: a CLIENT span, with the URL without its query (never a credential).
  return withSpan(
    request.span ?? `HTTP ${method}`,
    SpanKind.CLIENT,
    {
      'http.request.method': method,
      'url.full': `${target.origin}${target.pathname}`,
      'server.address': target.hostname,
    },
    async (span) => {
      const res = await call();
      span?.setAttribute('http.response.status_code', res.status);
      if (res.status >= 500) span?.setStatus({ code: SpanStatusCode.ERROR });
      return res;
    },
  );
}
