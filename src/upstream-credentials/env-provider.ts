/**
 * Provider `env`: REGISTRY_USERNAME + REGISTRY_PASSWORD (basic), REGISTRY_TOKEN (bearer),
 * GITHUB_TOKEN (basic, only for ghcr.io), SERVICE_AUTH_TOKEN (bearer) — in that order, names
 * configurable. Read on every call, so a changed environment (tests, a supervisor) is seen.
 */
import type { ProviderConfig } from '../config/upstream-auth-schema';
import type { CredentialProvider, ProviderResult } from './credential';

type EnvConfig = Extract<ProviderConfig, { type: 'env' }>;

export function envProvider(
  config: EnvConfig,
  env: NodeJS.ProcessEnv,
  upstreamHost: string,
): CredentialProvider {
  const value = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v === '' ? undefined : v;
  };
  const ghcr = upstreamHost.toLowerCase().split(':')[0] === 'ghcr.io';
  const name = `env`;
  return {
    name,
    get(): Promise<ProviderResult> {
      const username = value(config.usernameVar);
      const password = value(config.passwordVar);
      if (username !== undefined && password !== undefined) {
        return Promise.resolve({
          source: `env ${config.usernameVar}+${config.passwordVar}`,
          credential: { username, secret: password, scheme: 'basic' },
        });
      }
      const token = value(config.tokenVar);
      if (token !== undefined) {
        return Promise.resolve({
          source: `env ${config.tokenVar}`,
          credential: { secret: token, scheme: 'bearer' },
        });
      }
      const github = ghcr ? value(config.githubTokenVar) : undefined;
      if (github !== undefined) {
        return Promise.resolve({
          source: `env ${config.githubTokenVar}`,
          // GHCR takes any user name with a token as the password.
          credential: { username: username ?? 'authgate', secret: github, scheme: 'basic' },
        });
      }
      const service = value(config.serviceTokenVar);
      if (service !== undefined) {
        return Promise.resolve({
          source: `env ${config.serviceTokenVar}`,
          credential: { secret: service, scheme: 'bearer' },
        });
      }
      const names = [
        `${config.usernameVar}+${config.passwordVar}`,
        config.tokenVar,
        ...(ghcr ? [config.githubTokenVar] : []),
        config.serviceTokenVar,
      ];
      return Promise.resolve({ source: name, none: `none of ${names.join(', ')} is set` });
    },
  };
}
