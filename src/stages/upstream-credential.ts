/**
 * Stage "upstream credential" (docs/design.md#upstream-credentials): on a route with `upstreamAuth`, decides whether this
 * request goes upstream in authgate's name, puts authgate's credential in place of the caller's,
 * and answers a registry's Bearer challenge with a token exchange and one more attempt when the
 * request can be replayed (no body, or a small Content-Length body kept in memory).
 */
import type { IncomingMessage } from 'node:http';
import type { Clock } from '../clock';
import type { Config } from '../config/schema';
import type { AuthgateError } from '../errors';
import type { RawHeaders } from '../headers/hop-by-hop';
import type { Logger } from '../logging/logger';
import { ForwardRetry, RETRY, type UpstreamReply } from '../proxy/forward';
import {
  readReplayableBody,
  relativeToUpstream,
  withUpstreamAuthorization,
  withUpstreamHost,
} from '../proxy/upstream-credential';
import type { RequestScope } from '../request-scope';
import { upstreamPath, type CompiledRoute } from '../routes/route-table';
import {
  buildUpstreamAuth,
  type RouteUpstreamAuth,
} from '../upstream-credentials/route-upstream-auth';

/** What the transport takes besides the headers (see app.ts `send`). */
export interface SendOptions {
  body?: Buffer;
  replaceResponse?: (r: UpstreamReply) => Promise<AuthgateError | typeof RETRY>;
  rewriteLocation?: (value: string) => string;
}

export interface UpstreamCredentialStage {
  /** The route's upstream credential when this request goes upstream in authgate's name. */
  for(route: CompiledRoute, scope: RequestScope): RouteUpstreamAuth | undefined;
  /** The headers of a WebSocket upgrade with authgate's credential (no challenge round). */
  upgradeHeaders(
    ua: RouteUpstreamAuth,
    scope: RequestScope,
    route: CompiledRoute,
    path: string,
    headers: RawHeaders,
  ): Promise<RawHeaders>;
  /** Forwards with authgate's credential; `send` is the transport for one attempt. */
  forward(
    ua: RouteUpstreamAuth,
    req: IncomingMessage,
    scope: RequestScope,
    route: CompiledRoute,
    headers: RawHeaders,
    withBody: boolean,
    send: (headers: RawHeaders, options: SendOptions) => Promise<void>,
  ): Promise<void>;
}

export function createUpstreamCredentialStage(
  config: Readonly<Config>,
  routes: readonly CompiledRoute[],
  deps: {
    clock: Clock;
    logger: Logger;
    env: NodeJS.ProcessEnv;
    /** The upstream 401/403 → typed error mapping used when there is nothing to retry. */
    replaceUpstreamAuth: (reply: UpstreamReply) => Promise<AuthgateError>;
  },
): UpstreamCredentialStage {
  const byRoute = buildUpstreamAuth(routes, deps);
  /** The caller's own credentials: never sent upstream in authgate's name. */
  const callerCredentialHeaders: ReadonlySet<string> = new Set([
    'authorization',
    'x-amzn-oidc-accesstoken',
    'x-amzn-oidc-data',
    ...(config.auth.apiKeys ? [config.auth.apiKeys.header.toLowerCase()] : []),
  ]);

  return {
    for(route, scope) {
      const ua = byRoute.get(route.name);
      // A credential-less CORS preflight never goes in authgate's name.
      if (!ua || scope.preflight) return undefined;
      return ua.applies(scope.presented || scope.principal !== undefined, scope.internal)
        ? ua
        : undefined;
    },

    async upgradeHeaders(ua, scope, route, path, headers) {
      const authorization = await ua.authorization(scope.method, path, scope.requestId);
      return withUpstreamHost(
        withUpstreamAuthorization(headers, authorization.value, callerCredentialHeaders),
        route.upstream.host,
      );
    },

    async forward(ua, req, scope, route, headers, withBody, send) {
      const path = upstreamPath(route, scope.path ?? '/');
      let authorization = await ua.authorization(scope.method, path, scope.requestId);
      let body: Buffer | undefined;
      let replayable = !withBody;
      if (withBody && ua.exchange && scope.framing?.kind === 'length') {
        body = await readReplayableBody(req, scope, ua.replayBodyBytes);
        replayable = body !== undefined;
      }
      let retried = false;
      const challenged = async (res: UpstreamReply): Promise<AuthgateError | typeof RETRY> => {
        if (res.statusCode === 401 && ua.exchange && !retried) {
          const next = await ua
            .answerChallenge(res.header('www-authenticate'), authorization.value, scope.requestId)
            .catch(() => undefined);
          // Not replayable: the token is cached, so the client's next request is pre-authenticated.
          if (next !== undefined && replayable) {
            res.discard();
            authorization = { value: next, source: 'token exchange' };
            return RETRY;
          }
        }
        return deps.replaceUpstreamAuth(res);
      };
      const rewriteLocation = (value: string): string =>
        relativeToUpstream(value, route.upstream, route.prefix, route.config.stripPrefix);
      for (;;) {
        try {
          return await send(
            withUpstreamHost(
              withUpstreamAuthorization(headers, authorization.value, callerCredentialHeaders),
              route.upstream.host,
            ),
            { body, replaceResponse: challenged, rewriteLocation },
          );
        } catch (err) {
          if (!(err instanceof ForwardRetry) || retried) throw err;
          retried = true;
        }
      }
    },
  };
}
