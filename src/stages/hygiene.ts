/**
 * Stages "path" and "header hygiene" (docs/design.md#headers, §6): the request target is normalised once
 * (auth decisions and forwarding use exactly that path), the body framing is decided once,
 * guarded headers are checked, a token in the query string is refused, the credentials are
 * extracted (never logged, only whether they are present) and the client address is resolved
 * through the trusted proxies.
 */
import type { IncomingMessage } from 'node:http';
import {
  credentialPresented,
  extractCredentials,
  refuseQueryToken,
  type CredentialRules,
} from '../auth/credentials';
import type { Config } from '../config/schema';
import { NetworkList, clientIp } from '../headers/forwarded';
import { requestFraming } from '../headers/framing';
import { configHeaderGuard } from '../auth/registry';
import { checkGuardedHeaders, type HeaderGuard } from '../headers/guarded';
import type { Logger } from '../logging/logger';
import { normalizeRequestTarget } from '../paths/normalize-path';
import type { RequestScope } from '../request-scope';

export interface HygieneStage {
  (req: IncomingMessage, scope: RequestScope): void;
  /** Header names a client may not remove through `Connection`. */
  readonly guard: HeaderGuard;
}

export function createHygieneStage(
  config: Readonly<Config>,
  trustedProxies: NetworkList,
  logger: Logger,
  guard: HeaderGuard = configHeaderGuard(config),
): HygieneStage {
  const apiKeys = config.auth.apiKeys;
  const credentialRules: CredentialRules = {
    apiKeyHeader: apiKeys?.header.toLowerCase(),
    apiKeyPrefixes: apiKeys?.prefixes ?? [],
    albOidc: config.auth.albOidc !== undefined,
    sessionCookie: config.auth.oidc?.session.cookieName,
  };
  const internalNetworks = new NetworkList(config.server.internalNetworks);

  const stage = (req: IncomingMessage, scope: RequestScope): void => {
    const target = normalizeRequestTarget(req.url ?? '/');
    scope.path = target.path;
    scope.search = target.search;
    scope.framing = requestFraming(scope.rawHeaders);
    scope.peerTrusted = trustedProxies.has(scope.peerIp);
    checkGuardedHeaders(scope.rawHeaders, guard, scope.peerTrusted);
    refuseQueryToken(target.search);
    scope.credentials = extractCredentials(scope.rawHeaders, credentialRules);
    if (logger.isDebugEnabled()) {
      // Which credentials are present — never their values.
      logger.debug('credentials', {
        request_id: scope.requestId,
        bearer: scope.credentials.bearer !== undefined,
        api_key: scope.credentials.apiKey !== undefined,
        scheme: scope.credentials.scheme ?? null,
        malformed: scope.credentials.malformed !== undefined,
        cookie: scope.rawHeaders.some((h, i) => i % 2 === 0 && h.toLowerCase() === 'cookie'),
      });
    }
    scope.presented = credentialPresented(scope.credentials);
    scope.clientIp = clientIp(scope.rawHeaders, scope.peerIp, trustedProxies);
    scope.internal = internalNetworks.has(scope.clientIp);
  };
  return Object.assign(stage, { guard });
}
