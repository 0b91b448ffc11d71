/**
 * The configuration schema (DESIGN §3). Every field carries its default and a description;
 * docs/configuration.md is generated from this file (`npm run docs:config`) and a test keeps
 * the two in step.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { trimTrailingSlashes } from '../paths/normalize-path';

/** YAML after `${VAR}` interpolation yields strings; accept "8080" where a number is meant. */
const fromString = (value: unknown): unknown => {
  if (typeof value !== 'string') return value;
  const t = value.trim();
  if (/^-?\d+$/.test(t)) return Number(t);
  if (t === 'true') return true;
  if (t === 'false') return false;
  return value;
};
const int = (min: number, max: number) =>
  z.preprocess(fromString, z.number().int().min(min).max(max));
const bool = () => z.preprocess(fromString, z.boolean());

export function isCidr(value: string): boolean {
  const [addr, bits, extra] = value.split('/');
  if (extra !== undefined || addr === undefined) return false;
  const family = isIP(addr);
  if (family === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

const cidrList = z
  .array(z.string().refine(isCidr, { message: 'must be an IP address or CIDR block' }))
  .default([]);

const urlPath = z
  .string()
  .regex(/^\/[A-Za-z0-9._~\-/]*$/, { message: 'must be a path starting with "/"' });

const httpUrl = z.string().refine(
  (v) => {
    try {
      const u = new URL(v);
      return (
        (u.protocol === 'http:' || u.protocol === 'https:') && u.search === '' && u.hash === ''
      );
    } catch {
      return false;
    }
  },
  { message: 'must be an http(s) URL without query or fragment' },
);

const noCredentialsInUrl = (v: string): boolean => {
  try {
    const u = new URL(v);
    return u.username === '' && u.password === '';
  } catch {
    return true;
  }
};

export const HTTP_METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'OPTIONS',
  'TRACE',
  'CONNECT',
] as const;

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
        userId: z.string().min(1).default('sub').describe('Claim holding the user id.'),
        tenants: z
          .string()
          .min(1)
          .default('tenant_ids')
          .describe('Claim holding the tenant ids (array or string).'),
        scopes: z
          .string()
          .min(1)
          .default('scope')
          .describe('Claim holding scopes (space-separated or array; `scopes`/`scp` also read).'),
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

const redisNode = z.strictObject({
  host: z.string().min(1).describe('Host name or address.'),
  port: int(1, 65_535).describe('Port.'),
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
    .describe('Upstream base URL; its path is prepended to the forwarded path.'),
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
  tenantHeader: z
    .string()
    .regex(/^[A-Za-z0-9-]+$/)
    .default('X-Tenant-ID')
    .describe("Header naming the tenant; its value must be one of the principal's tenants."),
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
  presetScopes: z
    .strictObject({
      read: z.string().min(1).default('mlflow:read').describe('Scope for reads.'),
      edit: z.string().min(1).default('mlflow:edit').describe('Scope for creating and updating.'),
      manage: z
        .string()
        .min(1)
        .default('mlflow:manage')
        .describe('Scope for deleting, admin features and unknown endpoints.'),
    })
    .prefault({})
    .describe('Scope names the preset requires (rename them here).'),
  errorStyle: z
    .enum(['authgate', 'mlflow'])
    .optional()
    .describe(
      'authgate: DESIGN §4 codes; mlflow: MLflow ErrorCode names in error_code (the authgate code in authgate_code). Default mlflow with preset mlflow.',
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
  hashSecret: z
    .string()
    .optional()
    .describe(
      'Key for the HMAC that names cache entries; random per process when absent (set it when several instances share Redis).',
    ),
});

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      port: int(0, 65535).default(8080).describe('Main listener port (PORT overrides).'),
      host: z.string().min(1).default('0.0.0.0').describe('Address to bind.'),
      trustedProxies: cidrList.describe(
        'Peers whose X-Forwarded-* headers are extended (the ALB).',
      ),
      internalNetworks: cidrList.describe(
        'Callers trusted to pass X-User-ID through (internal hop).',
      ),
      drainDelayMs: int(0, 600_000)
        .default(5000)
        .describe(
          'On SIGTERM: /readyz answers 503 while every request is still served for this long (load balancer deregistration), then the listener closes.',
        ),
      shutdownGraceMs: int(0, 600_000)
        .default(25_000)
        .describe('After the drain delay: how long requests in flight may take to finish.'),
      headersTimeoutMs: int(1000, 600_000).default(10_000).describe('Slowloris guard.'),
      keepAliveTimeoutMs: int(1000, 3_600_000)
        .default(65_000)
        .describe('Client keep-alive; keep above the ALB idle timeout (60 s).'),
      healthPath: urlPath.default('/healthz').describe('Liveness: 200 while the process lives.'),
      readyPath: urlPath.default('/readyz').describe('Readiness: 503 while draining.'),
    })
    .prefault({}),
  proxy: z
    .strictObject({
      maxSocketsPerUpstream: int(1, 65_535)
        .default(256)
        .describe('Keep-alive sockets per upstream origin; requests beyond queue.'),
      idleSocketTimeoutMs: int(100, 600_000)
        .default(4000)
        .describe(
          'Below the upstream keep-alive timeout (Node 5 s, gunicorn 2 s: lower it there).',
        ),
    })
    .prefault({}),
  metrics: z
    .strictObject({
      port: int(0, 65535).default(9090).describe('Separate listener; 0 serves on the main port.'),
      path: urlPath.default('/metrics').describe('Scrape path.'),
      bearerToken: z.string().min(16).optional().describe('Require this bearer token on scrapes.'),
    })
    .prefault({}),
  logging: z
    .strictObject({
      level: z
        .enum(['error', 'warn', 'info', 'debug'])
        .default('info')
        .describe('LOG_LEVEL overrides.'),
      maskHeaders: z.array(z.string().min(1)).default([]).describe('Extra header names to mask.'),
      maskQueryParams: z.array(z.string().min(1)).default([]).describe('Extra query keys to mask.'),
    })
    .prefault({}),
  redis: z
    .strictObject({
      url: z
        .string()
        .regex(/^rediss?:\/\//, { message: 'must be a redis:// or rediss:// URL' })
        .optional()
        .describe('Absent: in-process stores (single instance only).'),
      keyPrefix: z.string().default('authgate:').describe('Prefix of every Redis key.'),
      sentinel: z
        .strictObject({
          name: z.string().min(1).describe('The master group name the sentinels monitor.'),
          sentinels: z.array(redisNode).min(1).describe('Sentinel addresses, tried in order.'),
          password: z
            .string()
            .optional()
            .describe('Password of the Redis master and replicas (use ${VAR}).'),
          sentinelPassword: z.string().optional().describe('Password of the sentinels themselves.'),
        })
        .optional()
        .describe('Redis through Sentinel (instead of url): ioredis follows failovers.'),
      cluster: z
        .strictObject({
          nodes: z.array(redisNode).min(1).describe('Seed nodes of the cluster.'),
          password: z.string().optional().describe('Cluster password (use ${VAR}).'),
        })
        .optional()
        .describe('Redis Cluster (instead of url): keys that go together share a hash tag.'),
    })
    .refine((r) => [r.url, r.sentinel, r.cluster].filter((v) => v !== undefined).length <= 1, {
      message: 'set at most one of url, sentinel and cluster',
    })
    .prefault({}),
  auth: z
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
              userId: z.string().min(1).default('sub').describe('Claim holding the user id.'),
              tenants: z
                .string()
                .min(1)
                .optional()
                .describe('Claim holding tenant ids (list or string).'),
              scopes: z
                .string()
                .min(1)
                .optional()
                .describe('Claim holding scopes, e.g. a groups claim (list or string).'),
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
          "Verify the ALB's x-amzn-oidc-data (DESIGN §12); first in the authenticator order.",
        ),
      failedAuthGuard: z
        .strictObject({
          maxFailures: int(0, 1_000_000)
            .default(20)
            .describe(
              'Failed authentications per client address and window; past it, 429 before any check. 0 turns the guard off.',
            ),
          windowSec: int(1, 86_400).default(60).describe('The counting window.'),
        })
        .prefault({})
        .describe(
          'Per client address (socket peer, or the X-Forwarded-For entry a trusted proxy added).',
        ),
    })
    .prefault({}),
  routes: z
    .array(routeSchema)
    .default([])
    .describe(
      'Named routes; the longest matching prefix wins. serve needs at least one; an embedded gate may have none.',
    ),
});

type Loose = Record<string, unknown>;
const asObject = (v: unknown): Loose =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Loose) : {};

export interface CrossProblem {
  path: Array<string | number>;
  message: string;
}

/**
 * Checks across fields. Runs on the raw input (not after the schema passed), so these are
 * reported together with every field-level problem.
 */
export function crossFieldProblems(input: unknown): CrossProblem[] {
  const problems: CrossProblem[] = [];
  const raw = asObject(input);
  const routes = Array.isArray(raw.routes) ? (raw.routes as unknown[]) : [];
  const auth = asObject(raw.auth);
  const issuers = asObject(auth.jwt).issuers;
  const hasAuthenticator =
    (Array.isArray(issuers) && issuers.length > 0) ||
    auth.apiKeys !== undefined ||
    auth.albOidc !== undefined;
  const names = new Map<string, number>();
  const prefixes = new Map<string, number>();
  routes.forEach((value, i) => {
    const r = asObject(value);
    if (typeof r.name === 'string') {
      const first = names.get(r.name);
      if (first !== undefined)
        problems.push({ path: ['routes', i, 'name'], message: `duplicates routes[${first}].name` });
      else names.set(r.name, i);
    }
    if (typeof r.prefix === 'string') {
      const p = r.prefix.length > 1 ? trimTrailingSlashes(r.prefix) || '/' : r.prefix;
      const first = prefixes.get(p);
      if (first !== undefined)
        problems.push({
          path: ['routes', i, 'prefix'],
          message: `duplicates routes[${first}].prefix`,
        });
      else prefixes.set(p, i);
    }
    const mode = r.auth ?? 'required';
    if ((mode === 'required' || mode === 'optional') && !hasAuthenticator) {
      problems.push({
        path: ['routes', i, 'auth'],
        message: `is "${String(mode)}" but auth.jwt.issuers, auth.apiKeys and auth.albOidc configure no authenticator`,
      });
    }
  });
  const server = asObject(raw.server);
  const metrics = asObject(raw.metrics);
  const reserved = [server.healthPath ?? '/healthz', server.readyPath ?? '/readyz'];
  if ((metrics.port ?? 9090) === 0 || metrics.port === '0')
    reserved.push(metrics.path ?? '/metrics');
  if (new Set(reserved).size !== reserved.length) {
    problems.push({
      path: ['server', 'readyPath'],
      message: 'health, ready and metrics paths must differ',
    });
  }
  return problems;
}

/**
 * Valid but probably unintended settings: reported by check-config and logged at startup,
 * never fatal.
 */
export function configWarnings(config: Readonly<Config>): CrossProblem[] {
  const warnings: CrossProblem[] = [];
  config.routes.forEach((route, i) => {
    if (route.preset === undefined && !Array.isArray(route.scopes) && !('*' in route.scopes)) {
      const listed = Object.keys(route.scopes).join(', ') || 'none';
      warnings.push({
        path: ['routes', i, 'scopes'],
        message: `has no "*": every method but ${listed} is denied (403)`,
      });
    }
  });
  return warnings;
}

export type Config = z.output<typeof configSchema>;
export type RouteConfig = Config['routes'][number];
export type IssuerConfig = Config['auth']['jwt']['issuers'][number];
export type ApiKeysConfig = NonNullable<Config['auth']['apiKeys']>;
