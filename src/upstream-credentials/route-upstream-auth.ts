/**
 * One route's upstream credential (docs/design.md#upstream-credentials): which requests get authgate's own credential
 * (mode), the provider chain that yields it (first that yields wins), and the token exchange a
 * registry's Bearer challenge triggers. The proxy asks it for the `Authorization` value of each
 * upstream request and hands it the upstream's `401` challenges.
 */
import type { Clock } from '../clock';
import type { RouteConfig } from '../config/schema';
import type { ProviderConfig, UpstreamAuthConfig } from '../config/upstream-auth-schema';
import { AuthgateError } from '../errors';
import type { Logger } from '../logging/logger';
import type { Upstream } from '../routes/route-table';
import { bearerChallenge } from './challenge';
import { commandProvider } from './command-provider';
import { authorizationValue, type CredentialProvider, type ProviderResult } from './credential';
import { dockerConfigProvider } from './docker-config-provider';
import { envProvider } from './env-provider';
import { fileProvider } from './file-provider';
import { oauth2Provider } from './oauth2-provider';
import { TokenExchange } from './token-exchange';

export interface UpstreamAuthDeps {
  clock: Clock;
  logger: Logger;
  env: NodeJS.ProcessEnv;
}

export function buildProvider(
  config: ProviderConfig,
  upstream: Upstream,
  deps: UpstreamAuthDeps,
  refreshBeforeMs: number,
): CredentialProvider {
  switch (config.type) {
    case 'env':
      return envProvider(config, deps.env, upstream.host);
    case 'file':
      return fileProvider(config, deps.clock);
    case 'dockerConfig':
      return dockerConfigProvider(config, deps.env, upstream.host);
    case 'command':
      return commandProvider(config, deps.clock, deps.env, refreshBeforeMs);
    case 'oauth2ClientCredentials':
      return oauth2Provider(config, deps.clock, refreshBeforeMs);
  }
}

/** The credential the upstream gets, and where it came from (for logs: never the value). */
export interface UpstreamAuthorization {
  value: string;
  source: string;
}

export class RouteUpstreamAuth {
  readonly mode: UpstreamAuthConfig['mode'];
  readonly providers: readonly CredentialProvider[];
  readonly exchange: TokenExchange | undefined;
  readonly replayBodyBytes: number;

  constructor(
    private readonly route: Readonly<RouteConfig>,
    upstream: Upstream,
    private readonly deps: UpstreamAuthDeps,
  ) {
    const config = route.upstreamAuth;
    const refreshBeforeMs = config.refreshBeforeSec * 1000;
    this.mode = config.mode;
    this.providers = config.providers.map((p) => buildProvider(p, upstream, deps, refreshBeforeMs));
    this.replayBodyBytes = config.tokenExchange.replayBodyBytes;
    this.exchange =
      config.tokenExchange.realms.length > 0
        ? new TokenExchange({
            route: route.name,
            realms: config.tokenExchange.realms,
            timeoutMs: config.tokenExchange.timeoutMs,
            refreshBeforeMs,
            clock: deps.clock,
            logger: deps.logger,
          })
        : undefined;
  }

  /**
   * Does this request go upstream with authgate's credential? `service`: always; `when-absent`:
   * only a caller in internalNetworks that presented no credential.
   */
  applies(presentedCredential: boolean, internalCaller: boolean): boolean {
    if (this.mode === 'service') return true;
    return this.mode === 'when-absent' && internalCaller && !presentedCredential;
  }

  /** The first provider that yields; 502 when none does (each one's reason is logged). */
  async credential(requestId: string): Promise<Extract<ProviderResult, { credential: unknown }>> {
    const reasons: string[] = [];
    for (const provider of this.providers) {
      const result = await provider.get();
      if ('credential' in result) return result;
      reasons.push(`${result.source}: ${result.none}`);
    }
    this.deps.logger.warn('no upstream credential', {
      request_id: requestId,
      route: this.route.name,
      reasons,
    });
    throw new AuthgateError('UPSTREAM_UNAVAILABLE', {
      message: 'authgate has no credential for this upstream.',
      reason: 'no_upstream_credential',
    });
  }

  /** The Authorization for an upstream request: a cached registry token when one fits, else the chain's credential. */
  async authorization(
    method: string,
    path: string,
    requestId: string,
  ): Promise<UpstreamAuthorization> {
    const cached = this.exchange?.cachedAuthorization(method, path);
    if (cached !== undefined) return { value: cached, source: 'token exchange' };
    const { credential, source } = await this.credential(requestId);
    return { value: authorizationValue(credential), source };
  }

  /**
   * The upstream answered 401: when it is a Bearer challenge and a token exchange is configured,
   * get a token (cached, or from the allow-listed realm with the chain's credential) and return
   * the Authorization to retry with; undefined when there is nothing to retry with.
   */
  async answerChallenge(
    wwwAuthenticate: string | undefined,
    sent: string,
    requestId: string,
  ): Promise<string | undefined> {
    if (!this.exchange) return undefined;
    const challenge = bearerChallenge(wwwAuthenticate);
    if (!challenge) return undefined;
    const { credential } = await this.credential(requestId);
    const result = await this.exchange.exchange(challenge, credential, requestId, sent);
    return result.ok ? result.authorization : undefined;
  }
}

/** The routes with an upstream credential, by route name. */
export function buildUpstreamAuth(
  routes: ReadonlyArray<{ config: Readonly<RouteConfig>; upstream: Upstream; name: string }>,
  deps: UpstreamAuthDeps,
): Map<string, RouteUpstreamAuth> {
  const out = new Map<string, RouteUpstreamAuth>();
  for (const r of routes) {
    if (r.config.upstreamAuth.mode !== 'none') {
      out.set(r.name, new RouteUpstreamAuth(r.config, r.upstream, deps));
    }
  }
  return out;
}
