/**
 * Checks across fields, one function per section, run on typed, defaulted values (so a default
 * is never repeated here). So that every problem is still reported at once, each section is
 * parsed on its own: a check sees the sections (and routes) that are valid, and skips what it
 * needs from one that is not. Each problem is a path and a reason, never a value.
 */
import { redisConfigured } from '../redis';
import { NetworkList } from '../headers/forwarded';
import { trimTrailingSlashes } from '../paths/normalize-path';
import { configSchema, type Config, type RouteConfig } from './schema';

export interface CrossProblem {
  path: Array<string | number>;
  message: string;
}

/**
 * What the checks see: the sections that parsed. A route that did not parse keeps its name and
 * prefix when they are valid on their own, so a duplicate is still found.
 */
export interface CheckInput {
  server?: Config['server'];
  metrics?: Config['metrics'];
  auth?: Config['auth'];
  /** The identityAssertion section as written (configured or not). */
  identityAssertion?: unknown;
  routes: ReadonlyArray<RouteConfig | Partial<Pick<RouteConfig, 'name' | 'prefix'>>>;
}

type Check = (config: Readonly<CheckInput>) => CrossProblem[];

/** Each section of raw input parsed on its own (defaults applied), for the checks. */
export function checkInputOf(raw: Record<string, unknown>): CheckInput {
  const shape = configSchema.shape;
  const section = <T>(
    schema: { safeParse(v: unknown): { success: boolean; data?: T } },
    v: unknown,
  ) => {
    const r = schema.safeParse(v);
    return r.success ? r.data : undefined;
  };
  const routes = Array.isArray(raw.routes) ? (raw.routes as unknown[]) : [];
  const route = shape.routes.unwrap().element;
  const keysOf = (r: unknown): Partial<Pick<RouteConfig, 'name' | 'prefix'>> => {
    const o = (r ?? {}) as Record<string, unknown>;
    return {
      name: section<string>(route.shape.name, o.name),
      prefix: section<string>(route.shape.prefix, o.prefix),
    };
  };
  return {
    server: section<Config['server']>(shape.server, raw.server),
    metrics: section<Config['metrics']>(shape.metrics, raw.metrics),
    auth: section<Config['auth']>(shape.auth, raw.auth),
    identityAssertion: raw.identityAssertion,
    routes: routes.map((r) => section<RouteConfig>(route, r) ?? keysOf(r)),
  };
}

/** Route names and prefixes are unique; an authenticated route needs an authenticator. */
export const routeProblems: Check = (config) => {
  const problems: CrossProblem[] = [];
  const names = new Map<string, number>();
  const prefixes = new Map<string, number>();
  const auth = config.auth;
  // An auth section that did not parse is reported already; do not guess about it.
  const hasAuthenticator =
    auth === undefined ||
    auth.jwt.issuers.length > 0 ||
    auth.apiKeys !== undefined ||
    auth.albOidc !== undefined ||
    auth.oidc !== undefined ||
    auth.clientCert !== undefined;
  config.routes.forEach((route, i) => {
    if (route.name !== undefined) {
      const first = names.get(route.name);
      if (first !== undefined)
        problems.push({ path: ['routes', i, 'name'], message: `duplicates routes[${first}].name` });
      else names.set(route.name, i);
    }
    if (route.prefix !== undefined) {
      const p = route.prefix.length > 1 ? trimTrailingSlashes(route.prefix) || '/' : route.prefix;
      const first = prefixes.get(p);
      if (first !== undefined)
        problems.push({
          path: ['routes', i, 'prefix'],
          message: `duplicates routes[${first}].prefix`,
        });
      else prefixes.set(p, i);
    }
    if ('auth' in route && route.auth !== 'none' && !hasAuthenticator) {
      problems.push({
        path: ['routes', i, 'auth'],
        message: `is "${route.auth}" but auth.jwt.issuers, auth.apiKeys, auth.albOidc and auth.oidc configure no authenticator`,
      });
    }
    if ('prefix' in route && 'auth' in route) {
      const list = route.upstreams ?? (route.upstream !== undefined ? [route.upstream] : []);
      if ((route.upstream === undefined) === (route.upstreams === undefined)) {
        problems.push({
          path: ['routes', i, 'upstream'],
          message:
            route.upstream === undefined
              ? 'is missing: set upstream (one URL) or upstreams (a list)'
              : 'and upstreams are both set: use one of them',
        });
      } else if (list.length > 1) {
        const shapes = new Set(
          list.map((u) => {
            const url = new URL(u);
            return `${url.protocol}${trimTrailingSlashes(url.pathname)}`;
          }),
        );
        if (shapes.size > 1)
          problems.push({
            path: ['routes', i, 'upstreams'],
            message: 'must share one scheme and one path: a request may go to any of them',
          });
      }
    }
    if (
      'upstreamTls' in route &&
      route.upstreamTls &&
      !routeUpstreams(route).every((u) => u.startsWith('https:'))
    ) {
      problems.push({
        path: ['routes', i, 'upstreamTls'],
        message: 'is set but the upstream is not https: authgate never falls back to plaintext',
      });
    }
    if (
      'identityAssertion' in route &&
      route.identityAssertion &&
      config.identityAssertion === undefined
    ) {
      problems.push({
        path: ['routes', i, 'identityAssertion'],
        message: 'is true but the identityAssertion section is not configured (issuer, key)',
      });
    }
    if ('mlflowPermissions' in route && route.mlflowPermissions && route.preset !== 'mlflow') {
      problems.push({
        path: ['routes', i, 'mlflowPermissions'],
        message: 'is true but the route has no preset: mlflow',
      });
    }
    if ('login' in route && route.login === 'browser' && auth !== undefined && !auth.oidc) {
      problems.push({
        path: ['routes', i, 'login'],
        message: 'is "browser" but auth.oidc is not configured: there is nowhere to sign in',
      });
    }
  });
  return problems;
};

/** A route's upstream URLs: `upstreams`, or the one `upstream`. */
export function routeUpstreams(route: Pick<RouteConfig, 'upstream' | 'upstreams'>): string[] {
  return route.upstreams ?? (route.upstream !== undefined ? [route.upstream] : []);
}

/** Two CIDR blocks overlap exactly when one holds the other's address. */
function overlaps(a: string, b: string): boolean {
  const addr = (cidr: string) => cidr.split('/')[0] as string;
  return new NetworkList([a]).has(addr(b)) || new NetworkList([b]).has(addr(a));
}

/**
 * The paths authgate answers itself must differ from each other; a trusted proxy is never an
 * internal caller (every client behind the load balancer would be one).
 */
export const serverProblems: Check = (config) => {
  if (!config.server) return [];
  const problems: CrossProblem[] = [];
  if (config.metrics) {
    const reserved = [config.server.healthPath, config.server.readyPath];
    if (config.metrics.port === 0) reserved.push(config.metrics.path);
    if (new Set(reserved).size !== reserved.length)
      problems.push({
        path: ['server', 'readyPath'],
        message: 'health, ready and metrics paths must differ',
      });
  }
  config.server.internalNetworks.forEach((internal, i) => {
    const trusted = config.server!.trustedProxies.findIndex((t) => overlaps(t, internal));
    if (trusted !== -1)
      problems.push({
        path: ['server', 'internalNetworks', i],
        message: `overlaps server.trustedProxies[${trusted}]: internal callers are decided on the client address behind a trusted proxy, so a trusted proxy's network cannot also be internal`,
      });
  });
  return problems;
};

const CHECKS: readonly Check[] = [serverProblems, routeProblems];

export function configProblems(config: Readonly<CheckInput>): CrossProblem[] {
  return CHECKS.flatMap((check) => check(config));
}

/**
 * Valid but probably unintended settings: reported by check-config and logged at startup,
 * never fatal.
 */
export function configWarnings(config: Readonly<Config>): CrossProblem[] {
  const warnings: CrossProblem[] = [];
  if (config.auth.clientCert && (config.server.tls?.clientCert ?? 'none') === 'none') {
    warnings.push({
      path: ['auth', 'clientCert'],
      message: 'is set but server.tls.clientCert is none: no client certificate is ever asked for',
    });
  }
  if (config.identityAssertion && !config.identityAssertion.keyFile) {
    warnings.push({
      path: ['identityAssertion', 'keyFile'],
      message:
        'is not set: a key is made at start, so every instance (and every restart) signs with its own and upstreams must refetch the JWKS',
    });
  }
  if (config.auth.oidc && !redisConfigured(config.redis)) {
    warnings.push({
      path: ['auth', 'oidc'],
      message:
        'sessions are kept in this process (no redis): one instance only, and a restart signs everyone out',
    });
  }
  config.routes.forEach((route, i) => {
    if (route.preset === undefined && !Array.isArray(route.scopes) && !('*' in route.scopes)) {
      const listed = Object.keys(route.scopes).join(', ') || 'none';
      warnings.push({
        path: ['routes', i, 'scopes'],
        message: `has no "*": every method but ${listed} is denied (403)`,
      });
    }
    if (route.upstreamAuth.mode === 'when-absent' && route.auth === 'required') {
      warnings.push({
        path: ['routes', i, 'upstreamAuth', 'mode'],
        message:
          'is "when-absent" on a route with auth "required": callers in server.internalNetworks that send no credential pass without one and reach the upstream with authgate\'s own credential',
      });
    }
    if (route.upstreamAuth.mode === 'service' && route.auth === 'optional') {
      warnings.push({
        path: ['routes', i, 'upstreamAuth', 'mode'],
        message:
          'is "service" on a route with auth "optional": anonymous callers reach the upstream with authgate\'s own credential',
      });
    }
    if (route.upstreamAuth.mode === 'service' && route.auth === 'none') {
      warnings.push({
        path: ['routes', i, 'upstreamAuth', 'mode'],
        message:
          'is "service" on a route with auth "none": every caller, unauthenticated, reaches the upstream with authgate\'s own credential',
      });
    }
  });
  return warnings;
}
