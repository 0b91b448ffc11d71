/**
 * `routes[].upstreamAuth` (docs/design.md#upstream-credentials): which credential authgate sends to the upstream, from an
 * ordered chain of providers, and the registry token exchange a Bearer challenge triggers.
 */
import { z } from 'zod';
import { httpUrl, int } from './fields';

const envVar = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'must be an environment variable name' });

const scheme = z
  .enum(['basic', 'bearer'])
  .optional()
  .describe(
    'How the secret is sent: basic (username:secret) or bearer. Default: basic with a username, else bearer.',
  );

const envProvider = z.strictObject({
  type: z.literal('env'),
  usernameVar: envVar
    .default('REGISTRY_USERNAME')
    .describe('Basic-auth user name (with passwordVar).'),
  passwordVar: envVar
    .default('REGISTRY_PASSWORD')
    .describe('Basic-auth password (with usernameVar).'),
  tokenVar: envVar.default('REGISTRY_TOKEN').describe('A bearer token for the upstream.'),
  githubTokenVar: envVar
    .default('GITHUB_TOKEN')
    .describe('A GitHub token, used only when the upstream is ghcr.io (basic auth).'),
  serviceTokenVar: envVar.default('SERVICE_AUTH_TOKEN').describe('A service-account bearer token.'),
});

const fileProvider = z.strictObject({
  type: z.literal('file'),
  path: z
    .string()
    .min(1)
    .describe(
      'A mounted secret: the secret itself, or JSON {username?, password/token/secret, expires_at?}. Re-read when it changes.',
    ),
  username: z.string().min(1).optional().describe('User name for basic auth.'),
  scheme,
});

const dockerConfigProvider = z.strictObject({
  type: z.literal('dockerConfig'),
  path: z
    .string()
    .min(1)
    .optional()
    .describe('config.json; default $DOCKER_CONFIG/config.json, else ~/.docker/config.json.'),
  registry: z
    .string()
    .min(1)
    .optional()
    .describe('The `auths` entry to use; default the upstream host.'),
});

const commandProvider = z.strictObject({
  type: z.literal('command'),
  argv: z
    .array(z.string())
    .min(1)
    .describe(
      'Program and arguments, run without a shell (e.g. az acr login --name N --expose-token).',
    ),
  timeoutMs: int(100, 300_000).default(20_000).describe('The command is killed after this.'),
  output: z
    .enum(['json', 'text'])
    .default('json')
    .describe(
      'json: {accessToken/access_token/token/password, username?, expires_in/expiresOn/expires_at?}; text: the whole output is the secret.',
    ),
  username: z
    .string()
    .min(1)
    .optional()
    .describe('User name for basic auth (ACR: 00000000-0000-0000-0000-000000000000).'),
  scheme,
  cacheSec: int(1, 86_400).default(300).describe('How long an answer without an expiry is reused.'),
});

const oauth2Provider = z
  .strictObject({
    type: z.literal('oauth2ClientCredentials'),
    tokenUrl: httpUrl.describe('OAuth2 token endpoint.'),
    clientId: z.string().min(1).describe('OAuth2 client id (sent with HTTP Basic).'),
    clientSecret: z
      .string()
      .min(1)
      .optional()
      .describe('OAuth2 client secret; use ${ENV_VAR}. Or clientAssertionFile.'),
    clientAssertionFile: z
      .string()
      .min(1)
      .optional()
      .describe(
        'A file holding a signed client assertion (RFC 7523), e.g. a Kubernetes projected service-account token for Entra ID workload identity; read for every token request, so rotation needs no restart.',
      ),
    clientAssertionType: z
      .string()
      .min(1)
      .default('urn:ietf:params:oauth:client-assertion-type:jwt-bearer')
      .describe('`client_assertion_type` sent with clientAssertionFile.'),
    scope: z.string().min(1).optional().describe('`scope` of the token request.'),
    audience: z
      .string()
      .min(1)
      .optional()
      .describe('`audience` of the token request (Auth0, Okta).'),
    timeoutMs: int(100, 60_000).default(5_000).describe('Token request timeout.'),
  })
  .refine((p) => (p.clientSecret === undefined) !== (p.clientAssertionFile === undefined), {
    message: 'set exactly one of clientSecret and clientAssertionFile',
  });

const PROVIDER_TYPES = new Set([
  'env',
  'file',
  'dockerConfig',
  'command',
  'oauth2ClientCredentials',
]);

/** Shorthands: `- env` for `- type: env`, and `- file: {path: ...}` for `- type: file, path: ...`. */
function providerShorthand(value: unknown): unknown {
  if (typeof value === 'string' && PROVIDER_TYPES.has(value)) return { type: value };
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && !('type' in value)) {
    const keys = Object.keys(value);
    const only = keys[0];
    if (keys.length === 1 && only !== undefined && PROVIDER_TYPES.has(only)) {
      const inner = (value as Record<string, unknown>)[only];
      return { type: only, ...(inner !== null && typeof inner === 'object' ? inner : {}) };
    }
  }
  return value;
}

export const providerSchema = z.preprocess(
  providerShorthand,
  z.discriminatedUnion('type', [
    envProvider,
    fileProvider,
    dockerConfigProvider,
    commandProvider,
    oauth2Provider,
  ]),
);
export type ProviderConfig = z.output<typeof providerSchema>;

export const upstreamAuthSchema = z
  .strictObject({
    mode: z
      .enum(['none', 'service', 'when-absent'])
      .default('none')
      .describe(
        "none: the caller's Authorization goes upstream untouched; service: authgate's own credential replaces it; when-absent: only for callers in internalNetworks that sent no credential.",
      ),
    providers: z
      .array(providerSchema)
      .default([])
      .describe('Tried in order; the first that yields a credential wins.'),
    refreshBeforeSec: int(0, 3600)
      .default(60)
      .describe('Expiring credentials and tokens are renewed this long before they expire.'),
    tokenExchange: z
      .strictObject({
        realms: z
          .array(httpUrl)
          .default([])
          .describe(
            'Token endpoints (exact URLs) a Bearer challenge may send authgate to; others are refused.',
          ),
        replayBodyBytes: int(0, 16 * 1024 * 1024)
          .default(64 * 1024)
          .describe(
            'Request bodies up to this size are kept so a challenged request can be retried once.',
          ),
        timeoutMs: int(100, 60_000).default(5_000).describe('Token request timeout.'),
      })
      .prefault({}),
  })
  .prefault({})
  .superRefine((value, ctx) => {
    if (value.mode !== 'none' && value.providers.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['providers'],
        message: `mode ${value.mode} needs at least one provider`,
      });
    }
  });
export type UpstreamAuthConfig = z.output<typeof upstreamAuthSchema>;
