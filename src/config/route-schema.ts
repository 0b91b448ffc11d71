/** `routes[]` of the config (docs/design.md#configuration): prefix, upstream, auth mode, scopes, limits, preset. */
import { z } from 'zod';
import { HTTP_METHODS, bool, httpUrl, int, noCredentialsInUrl, urlPath } from './fields';
import { upstreamAuthSchema } from './upstream-auth-schema';

const scopeList = z.array(z.string().min(1).regex(/^\S+$/, { message: 'must not contain spaces' }));
const scopesSchema = z
  .union([scopeList, z.record(z.string(), scopeList)])
  .default([])
  .superRefine((value, ctx) => {
    if (Array.isArray(value)) return;
    for (const method of Object.keys(value)) {
      if (method !== '*' && !(HTTP_METHODS as readonly string[]).includes(method)) {
        ctx.addIssue({
          code: 'custom',
          path: [method],
          message: 'must be an upper-case HTTP method or "*"',
        });
      }
    }
  })
  .describe(
    'Scopes every request must carry: a list, or per method ({GET: [...], "*": [...]}; "*" is the fallback).',
  );

/** TLS towards a peer authgate calls (an upstream, the auth service): CA, client certificate, name. */
export const upstreamTlsSchema = z
  .strictObject({
    caFile: z
      .string()
      .min(1)
      .optional()
      .describe(
        "PEM CA bundle the upstream's certificate is verified against (else the system's).",
      ),
    certFile: z.string().min(1).optional().describe('PEM client certificate authgate presents.'),
    keyFile: z.string().min(1).optional().describe('Its PEM private key.'),
    serverName: z
      .string()
      .min(1)
      .optional()
      .describe(
        "The name the upstream's certificate must carry (SNI), when it differs from the URL's host.",
      ),
    reloadIntervalMs: int(100, 3_600_000)
      .default(5_000)
      .describe('How often the files are checked for a change (rotation without restart).'),
  })
  .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), {
    message: 'certFile and keyFile go together',
  });

export const routeSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, {
      message: 'must be 1-63 characters of a-z, 0-9, "_" or "-"',
    })
    .describe('Label for metrics and logs; never the raw path.'),
  prefix: urlPath.describe('Path prefix, matched on segment boundaries; longest prefix wins.'),
  stripPrefix: bool().default(false).describe('Remove the prefix before forwarding.'),
  upstream: httpUrl
    .refine(noCredentialsInUrl, { message: 'must not contain credentials' })
    .optional()
    .describe(
      'Upstream base URL; its path is prepended to the forwarded path. A host name with several addresses is balanced (re-resolved every server.dns.refreshSec).',
    ),
  upstreams: z
    .array(httpUrl.refine(noCredentialsInUrl, { message: 'must not contain credentials' }))
    .min(1)
    .max(64)
    .optional()
    .describe(
      'Several upstream base URLs (instead of upstream), same scheme and path: round-robin; an address refusing connections is left out for a while, 502 only when all refuse.',
    ),
  preserveHost: bool()
    .default(true)
    .describe('Forward the client Host header (true) or the upstream host (false).'),
  auth: z
    .enum(['required', 'optional', 'none'])
    .default('required')
    .describe(
      'required: 401 without valid credentials; optional: checked when present; none: not checked.',
    ),
  scopes: scopesSchema,
  identityAssertion: bool()
    .default(false)
    .describe(
      'true: the upstream gets the identity assertion of the caller (identityAssertion section); anonymous requests get none.',
    ),
  upstreamTls: upstreamTlsSchema
    .optional()
    .describe(
      'TLS towards an https upstream: CA, client certificate, server name; never a plaintext fallback.',
    ),
  identityHeaders: z
    .record(z.string().regex(/^[A-Za-z0-9-]+$/), z.string().min(1))
    .default({})
    .describe(
      "Header → claim (a name or dotted path) of the verified principal, e.g. {X-User-Email: email}; guarded like X-User-ID: a client's value is refused (403), its underscore spelling too (400).",
    ),
  forwardCredentials: bool()
    .default(true)
    .describe(
      "false: the caller's credential (Authorization, the API-key header, the ALB's headers, a session's token) never reaches the upstream; pair it with identityAssertion.",
    ),
  tenantRequired: bool()
    .default(false)
    .describe(
      'true: a request with a principal must name its tenant (header or path, or tenantFromToken), else 400 TENANT_REQUIRED.',
    ),
  tenantFromToken: bool()
    .default(false)
    .describe(
      'true: a principal with exactly one tenant that names none gets it set in the tenant header.',
    ),
  login: z
    .enum(['none', 'browser'])
    .default('none')
    .describe(
      'browser: a browser navigation without a credential or session is sent to sign in at auth.oidc (302); every other request still gets the typed 401.',
    ),
  tenantHeader: z
    .string()
    .regex(/^[A-Za-z0-9-]+$/)
    .default('X-Tenant-ID')
    .describe("Header naming the tenant; its value must be one of the principal's tenants."),
  tenantPathSegment: int(1, 16)
    .optional()
    .describe(
      "The path segment after the prefix that names the tenant (1 = the first): it must be one of the principal's tenants (403 TENANT_FORBIDDEN), e.g. registry repositories /v2/<tenant>/<name>. A path without it (the prefix itself) carries no tenant.",
    ),
  upstreamAuth: upstreamAuthSchema.describe(
    "Which credential the upstream gets (docs/design.md#upstream-credentials): the caller's (none), or authgate's own from a provider chain.",
  ),
  ws: bool().default(false).describe('Allow authenticated WebSocket upgrades on this route.'),
  cors: z
    .strictObject({
      preflight: bool()
        .default(false)
        .describe(
          'Let OPTIONS preflights (Origin + Access-Control-Request-Method) through without credentials.',
        ),
    })
    .prefault({}),
  timeouts: z
    .strictObject({
      connectMs: int(1, 600_000).default(2000).describe('TCP/TLS connect timeout.'),
      responseMs: int(1, 3_600_000)
        .default(30_000)
        .describe('Longest the upstream socket may stay silent (headers or body).'),
    })
    .prefault({}),
  preset: z
    .enum(['mlflow'])
    .optional()
    .describe(
      'mlflow: every MLflow endpoint needs presetScopes.read, .edit or .manage, as MLflow classifies it (docs/mlflow.md).',
    ),
  enforce: z
    .preprocess(
      (v) => (v === 'true' ? true : v),
      z.union([z.literal(true), z.literal('shadow')], {
        message: 'must be true or "shadow"',
      }),
    )
    .default(true)
    .describe(
      'true: refusals refuse. shadow: every check runs, logged (decision: would_deny) and counted (authgate_shadow_denials_total), but nothing is refused — for rolling out scopes, presets and limits on live traffic.',
    ),
  mlflowPermissions: bool()
    .default(false)
    .describe(
      "With preset mlflow and MLflow's permission app behind (authgate-mlflow): reads need presetScopes.read, every write (deletes and grants too) .edit, MLflow's admin-only endpoints .admin; MLflow decides per experiment and model (docs/mlflow-permissions.md).",
    ),
  presetScopes: z
    .strictObject({
      read: z.string().min(1).default('mlflow:read').describe('Scope for reads.'),
      edit: z.string().min(1).default('mlflow:edit').describe('Scope for creating and updating.'),
      manage: z
        .string()
        .min(1)
        .default('mlflow:manage')
        .describe('Scope for deleting, admin features and unknown endpoints.'),
      admin: z
        .string()
        .min(1)
        .default('mlflow:admin')
        .describe(
          "With mlflowPermissions: scope for what MLflow lets only its admins do (user administration, roles, webhooks, workspaces) and unknown endpoints; MLflow's admins are the holders of this scope.",
        ),
    })
    .prefault({})
    .describe('Scope names the preset requires (rename them here).'),
  errorStyle: z
    .enum(['authgate', 'mlflow'])
    .optional()
    .describe(
      'authgate: docs/design.md#typed-errors codes; mlflow: MLflow ErrorCode names in error_code (the authgate code in authgate_code). Default mlflow with preset mlflow.',
    ),
  rateLimit: z
    .strictObject({
      requestsPerMinute: int(1, 10_000_000).describe('Sustained rate per key.'),
      burst: int(1, 10_000_000)
        .optional()
        .describe(
          'Requests a key may make at once (GCRA burst); default requestsPerMinute, i.e. a full minute of quota.',
        ),
      by: z
        .enum(['principal', 'tenant', 'ip'])
        .default('principal')
        .describe('What a limit is counted per.'),
      fallbackRequestsPerMinute: int(1, 10_000_000)
        .optional()
        .describe(
          'Per-process rate while Redis is unreachable. Default: requestsPerMinute divided by the number of authgate processes last seen sharing Redis.',
        ),
    })
    .optional()
    .describe(
      'Absent: no rate limit. GCRA, shared through Redis (one atomic call per request), with RateLimit-Policy/RateLimit headers.',
    ),
});
