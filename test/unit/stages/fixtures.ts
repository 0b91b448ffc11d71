import type { IncomingMessage } from 'node:http';
import { parseConfig } from '../../../src/config/load';
import type { Config } from '../../../src/config/schema';
import { createRequestScope, type RequestScope } from '../../../src/request-scope';

/** An IncomingMessage as the stages read it: url, method, raw and parsed headers, the peer. */
export function fakeRequest(
  url: string,
  rawHeaders: string[] = [],
  options: { method?: string; peer?: string } = {},
): IncomingMessage {
  const headers: Record<string, string> = {};
  for (let i = 0; i < rawHeaders.length; i += 2)
    headers[rawHeaders[i]!.toLowerCase()] ??= rawHeaders[i + 1]!;
  return {
    url,
    method: options.method ?? 'GET',
    rawHeaders,
    headers,
    socket: { remoteAddress: options.peer ?? '203.0.113.9', localPort: 8080 },
  } as unknown as IncomingMessage;
}

export function scopeOf(req: IncomingMessage): RequestScope {
  return createRequestScope(req);
}

export const SECRET = 'stage-unit-test-secret-0123456789abcdef';

export function testConfig(extra: Record<string, unknown> = {}): Readonly<Config> {
  return parseConfig(
    {
      auth: {
        jwt: { issuers: [{ issuer: 'unit', algorithms: ['HS256'], secret: SECRET }] },
        apiKeys: {
          prefixes: ['hok_'],
          validateUrl: 'http://127.0.0.1:9/v',
          hashSecret: 'h'.repeat(32),
        },
      },
      routes: [{ name: 'api', prefix: '/', upstream: 'http://up.internal:5000/base' }],
      ...extra,
    },
    {},
  );
}
