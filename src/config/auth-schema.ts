/** `auth` of the config (docs/design.md#configuration): JWT issuers, API keys, the ALB's OIDC data, the failed-auth guard. */
import { z } from 'zod';
import { bool, httpUrl, int, noCredentialsInUrl, urlPath } from './fields';
import { upstreamTlsSchema } from './route-schema';
import { providerSchema } from './upstream-auth-schema';

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
  validateUrl: httpUrl
    .refine(noCredentialsInUrl, {
      message: 'must not contain credentials (authgate authenticates itself with serviceAuth)',
    })
    .describe('Auth service endpoint (POST {"api_key": ...}).'),
  serviceAuth: z
    .strictObject({
      header: z
        .string()
        .regex(/^[A-Za-z0-9-]+$/)
        .default('Authorization')
        .describe('The header authgate sends its own credential in.'),
      value: z
        .string()
        .min(1, { message: 'is empty (is its ${VAR} set?)' })
        .optional()
        .describe(
          'The credential, e.g. "Bearer ${AUTH_SERVICE_TOKEN}" (use ${VAR}; never logged).',
        ),
      providers: z
        .array(providerSchema)
        .min(1)
        .optional()
        .describe(
          'Instead of value: the upstream-credential provider chain (env, file, command, oauth2ClientCredentials ...); the first that yields is sent in `header`, renewed before it expires.',
        ),
      tls: upstreamTlsSchema
        .optional()
        .describe(
          'TLS towards the auth service: its CA, and a client certificate authgate presents (files re-read when they change).',
        ),
    })
    .refine((a) => !(a.value !== undefined && a.providers !== undefined), {
      message: 'set value or providers, not both',
    })
    .refine(
      (a) => a.value !== undefined || a.providers !== undefined || a.tls?.certFile !== undefined,
      {
        message: 'needs a credential: value, providers or tls.certFile',
      },
    )
    .optional()
    .describe(
      'authgate\'s own credential towards the auth service. With it, the service answering 401/403 means that credential was refused: 503 and an error line, never "key invalid" (invalid keys are 200 {"valid": false} or 404).',
    ),
  adminUrl: httpUrl
    .refine(noCredentialsInUrl, { message: 'must not contain credentials' })
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
  cacheMaxMb: int(1, 4096)
    .default(32)
    .describe(
      'The valid-key cache is also bounded by bytes (an estimate of each entry: its user, scopes and tenants); the least recently used go first.',
    ),
  negativeCacheSize: int(1, 10_000_000)
    .default(10_000)
    .describe(
      'In-process cache entries for invalid keys (about 0.2 KB each), kept apart so a stream of bad keys never pushes valid ones out; they are dropped once negativeCacheTtlSec has passed.',
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

const COOKIE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

function isLoopbackUrl(value: string): boolean {
  try {
    const host = new URL(value).hostname;
    return host === 'localhost' || host === '127.0.0.1' || host === '[::1]';
  } catch {
    return false;
  }
}

const oidcSchema = z
  .strictObject({
    issuer: httpUrl.describe(
      'The OpenID Provider; discovery at {issuer}/.well-known/openid-configuration. Plain http only for a loopback issuer (development, tests).',
    ),
    clientId: z.string().min(1).describe("authgate's client id at the provider."),
    clientSecret: z
      .string()
      .min(1)
      .describe(
        'The client secret (use ${VAR}); it also keys the encryption of sessions at rest, so every instance needs the same one.',
      ),
    scopes: z
      .array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/))
      .default(['openid', 'profile', 'email', 'offline_access'])
      .refine((s) => s.includes('openid'), { message: 'must include "openid"' })
      .describe('Scopes asked for at sign-in; offline_access asks for a refresh token.'),
    publicUrl: httpUrl
      .refine((v) => new URL(v).pathname === '/', { message: 'must be an origin, without a path' })
      .describe(
        "authgate's external origin as browsers see it (https://mlflow.example.com): the redirect_uri is publicUrl + callbackPath, and the origin state-changing requests must come from.",
      ),
    callbackPath: urlPath
      .default('/oauth2/callback')
      .describe('Where the provider sends the browser back (register publicUrl + this).'),
    logoutPath: urlPath
      .default('/oauth2/logout')
      .describe(
        'Ends the session (GET or POST), then signs out at the provider when it offers RP-initiated logout (register publicUrl + "/" as a post-logout redirect).',
      ),
    timeoutMs: int(1, 60_000)
      .default(5000)
      .describe('Timeout of each call to the provider (discovery, token, userinfo).'),
    session: z
      .strictObject({
        cookieName: z
          .string()
          .regex(COOKIE_NAME)
          .default('authgate_session')
          .describe(
            "The session cookie: an opaque random id only (HttpOnly, SameSite=Lax); the pre-sign-in cookies are named <cookieName>_login_<n>. authgate's cookies never reach an upstream.",
          ),
        cookieSecure: bool()
          .default(true)
          .describe('The Secure attribute; false only for plain-http development.'),
        idleTimeoutSec: int(60, 30 * 86_400)
          .default(28_800)
          .describe('A session not used for this long ends.'),
        absoluteTimeoutSec: int(60, 365 * 86_400)
          .default(86_400)
          .describe('A session ends this long after sign-in, however much it is used.'),
        refreshBeforeSec: int(0, 3600)
          .default(60)
          .describe(
            "The session's access token is refreshed this long before it expires (once per session across instances).",
          ),
      })
      .prefault({})
      .describe(
        'Sessions live in Redis when redis is configured (every instance sees them, a restart keeps them; tokens encrypted at rest), else in process.',
      ),
    claims: z
      .strictObject({
        userId: z
          .string()
          .min(1)
          .default('sub')
          .describe('Claim holding the user id (a name, or a dotted path).'),
        tenants: z
          .string()
          .min(1)
          .default('tenant_ids')
          .describe('Claim holding the tenant ids (list or string); a name or a dotted path.'),
        scopes: z
          .string()
          .min(1)
          .default('scope')
          .describe(
            'Claim holding scopes (list or space-separated string); a name or a dotted path such as `realm_access.roles`.',
          ),
      })
      .prefault({})
      .describe(
        'Where the principal is read from: the ID token, and userinfo where the provider has one.',
      ),
    groupScopes: z
      .strictObject({
        claim: z
          .string()
          .min(1)
          .default('groups')
          .describe('Claim holding the groups (a name or a dotted path).'),
        map: z
          .record(z.string().min(1), z.array(z.string().min(1)))
          .default({})
          .describe('Group name -> the scopes its members get.'),
      })
      .optional()
      .describe(
        'Scopes from provider groups, e.g. {claim: groups, map: {mlflow-editors: [mlflow:read, mlflow:edit]}}.',
      ),
  })
  .superRefine((oidc, ctx) => {
    if (oidc.issuer.startsWith('http:') && !isLoopbackUrl(oidc.issuer)) {
      ctx.addIssue({
        code: 'custom',
        path: ['issuer'],
        message: 'must be https (plain http only for a loopback issuer)',
      });
    }
    if (oidc.publicUrl.startsWith('http:') && oidc.session.cookieSecure) {
      ctx.addIssue({
        code: 'custom',
        path: ['session', 'cookieSecure'],
        message:
          'is true but publicUrl is plain http: browsers would never send the session cookie back (set it false for development)',
      });
    }
    if (oidc.session.idleTimeoutSec > oidc.session.absoluteTimeoutSec) {
      ctx.addIssue({
        code: 'custom',
        path: ['session', 'idleTimeoutSec'],
        message: 'must not exceed absoluteTimeoutSec',
      });
    }
    if (oidc.callbackPath === oidc.logoutPath) {
      ctx.addIssue({
        code: 'custom',
        path: ['logoutPath'],
        message: 'must differ from callbackPath',
      });
    }
  });

export type OidcConfig = z.infer<typeof oidcSchema>;

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
        verifiedCacheMaxMb: int(1, 4096)
          .default(32)
          .describe(
            'The verified-token cache is also bounded by bytes (an estimate of each entry from its token and claims); the least recently used go first.',
          ),
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
    clientCert: z
      .strictObject({
        principalFrom: z
          .enum(['uriSan', 'dnsSan', 'subjectCn'])
          .default('uriSan')
          .describe(
            'uriSan: the SPIFFE id; dnsSan: the first DNS name; subjectCn: the subject CN.',
          ),
        allow: z
          .array(z.string().min(1))
          .min(1)
          .describe(
            'Identities accepted, e.g. "spiffe://prod.example/ns/ml/sa/*" (* one segment, ** any rest); others are refused (401).',
          ),
        scopes: z
          .record(z.string().min(1), z.array(z.string().min(1)))
          .default({})
          .describe('Identity → its scopes.'),
        defaultScopes: z
          .array(z.string().min(1))
          .default([])
          .describe('Scopes every allowed certificate has.'),
      })
      .optional()
      .describe(
        'A client certificate verified by server.tls.clientCaFile is a credential (docs/tls.md); a bearer token or API key sent too decides instead.',
      ),
    oidc: oidcSchema
      .optional()
      .describe(
        'Browser sign-in (docs/browser-sign-in.md): authgate is the OIDC relying party of routes with login: browser; sessions are kept server-side.',
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
