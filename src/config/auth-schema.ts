/** `auth` of the config (docs/design.md#configuration): JWT issuers, API keys, the ALB's OIDC data, the failed-auth guard. */
import { z } from 'zod';
import { httpUrl, int } from './fields';

export const ALGORITHMS = [
  'HS256',
  'HS384',
  'HS512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

const issuerSchema = z
  .strictObject({
    issuer: z.string().min(1).describe('Exact `iss` claim value.'),
    audience: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .optional()
      .describe('Accepted `aud` value(s); when set, tokens without a matching `aud` are rejected.'),
    algorithms: z
      .array(z.enum(ALGORITHMS))
      .min(1)
      .describe('Explicit allow-list; HS and asymmetric algorithms cannot be mixed in one issuer.'),
    jwksUri: httpUrl.optional().describe('JWKS endpoint for asymmetric keys (cached, rotated).'),
    publicKeyFile: z.string().min(1).optional().describe('PEM public key file.'),
    secret: z.string().optional().describe('HMAC secret (>= 32 bytes); use ${ENV_VAR}.'),
    claims: z
      .strictObject({
        userId: z
          .string()
          .min(1)
          .default('sub')
          .describe('Claim holding the user id (a name, or a dotted path into nested claims).'),
        tenants: z
          .string()
          .min(1)
          .default('tenant_ids')
          .describe(
            'Claim holding the tenant ids (array or string); a dotted path such as `org.tenants` reads a nested claim.',
          ),
        scopes: z
          .string()
          .min(1)
          .default('scope')
          .describe(
            'Claim holding scopes (space-separated or array; `scopes`/`scp` also read); a dotted path such as `realm_access.roles` reads a nested claim.',
          ),
      })
      .prefault({})
      .describe('Claim names the principal is read from.'),
  })
  .superRefine((iss, ctx) => {
    const sources = [iss.jwksUri, iss.publicKeyFile, iss.secret].filter((s) => s !== undefined);
    if (sources.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: 'needs exactly one of jwksUri, publicKeyFile or secret',
      });
    }
    const hmac = iss.algorithms.filter((a) => a.startsWith('HS'));
    if (hmac.length > 0 && hmac.length !== iss.algorithms.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['algorithms'],
        message: 'must not mix HS* with asymmetric algorithms (algorithm confusion)',
      });
    }
    if (hmac.length > 0 && iss.secret === undefined) {
      ctx.addIssue({ code: 'custom', path: ['secret'], message: 'is required for HS* algorithms' });
    }
    if (hmac.length === 0 && iss.secret !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['secret'],
        message: 'is only valid with HS* algorithms',
      });
    }
    if (iss.secret !== undefined && Buffer.byteLength(iss.secret) < 32) {
      ctx.addIssue({
        code: 'custom',
        path: ['secret'],
        message: 'must be at least 32 bytes long (value not shown)',
      });
    }
  });

const apiKeysSchema = z.strictObject({
  prefixes: z
    .array(z.string().min(3))
    .min(1)
    .describe('Key prefixes that mark a credential as an API key.'),
  header: z
    .string()
    .regex(/^[A-Za-z0-9-]+$/)
    .default('X-API-Key')
    .describe('Header carrying the key (also accepted as a Bearer token).'),
  validateUrl: httpUrl.describe('Auth service endpoint (POST {"api_key": ...}).'),
  adminUrl: httpUrl
    .optional()
    .describe(
      "The auth service's key-management API for `authgate api-key create|list|revoke` (admin token from $AUTHGATE_ADMIN_TOKEN).",
    ),
  cacheTtlSec: int(1, 86_400)
    .default(300)
    .describe('How long a valid key is cached (never past its expires_at).'),
  negativeCacheTtlSec: int(1, 3600).default(30).describe('How long an invalid key is cached.'),
  timeoutMs: int(1, 60_000).default(2000).describe('Per attempt.'),
  probeIntervalSec: int(0, 3600)
    .default(15)
    .describe(
      'Every this often a known-bad key is validated, so authgate_auth_service_up follows the service; 0 turns the probe off.',
    ),
  retries: int(0, 5)
    .default(2)
    .describe('Extra attempts on timeouts and 5xx, with backoff and jitter.'),
  cacheSize: int(1, 10_000_000)
    .default(100_000)
    .describe('In-process cache entries for valid keys (and as many revocation generations).'),
  negativeCacheSize: int(1, 10_000_000)
    .default(10_000)
    .describe(
      'In-process cache entries for invalid keys, kept apart so a stream of bad keys never pushes valid ones out.',
    ),
  circuitBreaker: z
    .strictObject({
      failureThreshold: int(1, 1000)
        .default(5)
        .describe('Failed lookups in a row (5xx, timeouts, resets) that open the circuit.'),
      openSec: int(1, 3600)
        .default(10)
        .describe('How long the circuit stays open before one probe is let through.'),
    })
    .prefault({})
    .describe('While open, API keys not cached answer 503 without calling the service.'),
  hashSecret: z
    .string()
    .optional()
    // Empty is absent (an unset `${VAR:-}`); otherwise a key as long as the HMAC's output.
    .refine((v) => v === undefined || v === '' || Buffer.byteLength(v) >= 32, {
      message: 'must be at least 32 bytes long (value not shown)',
    })
    .describe(
      'Key for the HMAC that names cache entries (>= 32 bytes); random per process when absent or empty (set it when several instances share Redis).',
    ),
});

export const authSchema = z
  .strictObject({
    jwt: z
      .strictObject({
        clockToleranceSec: int(0, 600).default(30).describe('Leeway for exp, nbf and iat.'),
        maxLifetimeSec: int(60, 31_536_000)
          .default(86_400)
          .describe('Tokens living longer (exp - iat, or exp - now) are rejected.'),
        verifiedCacheSize: int(0, 10_000_000)
          .default(10_000)
          .describe('Verified-token cache entries; 0 disables the cache.'),
        jwksMinRefetchIntervalSec: int(0, 3600)
          .default(10)
          .describe('At most one JWKS refetch per issuer in this interval (unknown-kid floods).'),
        jwksMaxAgeSec: int(10, 86_400)
          .default(600)
          .describe('JWKS older than this is refreshed in the background.'),
        issuers: z.array(issuerSchema).default([]).describe('Trusted issuers, matched on `iss`.'),
      })
      .prefault({}),
    apiKeys: apiKeysSchema.optional(),
    albOidc: z
      .strictObject({
        keysUrl: httpUrl.describe(
          "The ALB's public-key endpoint; the key for a token is fetched from keysUrl/<kid> (https://public-keys.auth.elb.<region>.amazonaws.com).",
        ),
        signers: z
          .array(z.string().min(1))
          .min(1)
          .describe(
            'ARNs of the load balancers whose tokens are accepted (the `signer` header claim).',
          ),
        issuer: z.string().min(1).optional().describe('When set, the `iss` claim must equal it.'),
        clientId: z
          .string()
          .min(1)
          .optional()
          .describe('When set, the `client` header claim must equal it.'),
        claims: z
          .strictObject({
            userId: z
              .string()
              .min(1)
              .default('sub')
              .describe('Claim holding the user id (a name, or a dotted path into nested claims).'),
            tenants: z
              .string()
              .min(1)
              .optional()
              .describe('Claim holding tenant ids (list or string); a name or a dotted path.'),
            scopes: z
              .string()
              .min(1)
              .optional()
              .describe(
                'Claim holding scopes, e.g. a groups claim (list or string); a name or a dotted path such as `realm_access.roles`.',
              ),
          })
          .prefault({}),
        scopes: z
          .array(z.string().min(1))
          .default([])
          .describe('Scopes every ALB-authenticated user has (e.g. [mlflow:read]).'),
        clockToleranceSec: int(0, 600).default(30).describe('Leeway for exp.'),
        timeoutMs: int(1, 60_000).default(2000).describe('Key fetch timeout.'),
        minFetchIntervalMs: int(0, 3_600_000)
          .default(1000)
          .describe('At most one fetch of a key not seen before in this interval (kid floods).'),
      })
      .optional()
      .describe(
        "Verify the ALB's x-amzn-oidc-data (docs/design.md#alb-integration); first in the authenticator order.",
      ),
    failedAuthGuard: z
      .strictObject({
        maxFailures: int(0, 1_000_000)
          .default(20)
          .describe(
            'Failed authentications per client address and window; past it, 429 before any check. 0 turns the guard off.',
          ),
        windowSec: int(1, 86_400).default(60).describe('The counting window.'),
        ipv6PrefixLength: int(32, 128)
          .default(64)
          .describe(
            'IPv6 clients are counted per network of this prefix length (a /64 is one subscriber: one host can use all of it).',
          ),
      })
      .prefault({})
      .describe(
        'Per client address (socket peer, or the X-Forwarded-For entry a trusted proxy added).',
      ),
  })
  .prefault({});
