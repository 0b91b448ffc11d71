/**
 * The compiled route table: routes sorted by prefix length once at startup, matched on path
 * segment boundaries ("/mlflow" matches "/mlflow" and "/mlflow/x", never "/mlflowx").
 */
import type { RouteConfig } from '../config/schema';
import { AuthgateError } from '../errors';
import { trimTrailingSlashes } from '../paths/normalize-path';
import { classifyMlflowRequest, mlflowAppPermission } from '../presets/mlflow';

export interface Upstream {
  /** `http:` or `https:` */
  protocol: 'http:' | 'https:';
  hostname: string;
  port: number;
  /** `host[:port]` as written for a Host header. */
  host: string;
  /** Upstream base path without trailing slash ("" for none). */
  basePath: string;
  /** Scheme + authority, the key of the connection pool. */
  origin: string;
}

export interface CompiledRoute {
  readonly name: string;
  readonly prefix: string;
  /** The prefix as matched: ASCII lower case (route selection ignores case). */
  readonly matchPrefix: string;
  readonly config: Readonly<RouteConfig>;
  /** The first (or only) upstream: its scheme, Host and base path are every upstream's. */
  readonly upstream: Upstream;
  /** Every upstream URL of the route (`upstreams`, or the one `upstream`). */
  readonly upstreams: readonly Upstream[];
  /**
   * Scopes required for `method` on `path` (the path after stripPrefix), resolved per method
   * with "*" as fallback, then from the route's preset; METHOD_NOT_GRANTED when a per-method
   * map neither lists the method nor has "*" (and no preset decides).
   */
  scopesFor(method: string, path: string): readonly string[] | typeof METHOD_NOT_GRANTED;
  /** The error body style of this route (docs/design.md#typed-errors). */
  readonly errorStyle: 'authgate' | 'mlflow';
}

export function parseUpstream(url: string): Upstream {
  const u = new URL(url);
  const protocol = u.protocol === 'https:' ? 'https:' : 'http:';
  const port = u.port !== '' ? Number(u.port) : protocol === 'https:' ? 443 : 80;
  const hostname = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  return {
    protocol,
    hostname,
    port,
    host: u.host,
    basePath: trimTrailingSlashes(u.pathname),
    origin: `${protocol}//${u.host}`,
  };
}

/** A per-method scope map without "*" denies the methods it does not list (fail closed). */
export const METHOD_NOT_GRANTED = Symbol('method-not-granted');

function compileScopes(
  config: Readonly<RouteConfig>,
): (method: string, path: string) => readonly string[] | typeof METHOD_NOT_GRANTED {
  const scopes = config.scopes;
  const preset = config.preset === 'mlflow';
  // A list applies to every method (with a preset too: explicit scopes override it).
  if (Array.isArray(scopes) && (!preset || scopes.length > 0)) {
    const frozen = Object.freeze([...scopes]);
    return () => frozen;
  }
  const table = new Map<string, readonly string[]>();
  if (!Array.isArray(scopes))
    for (const [method, list] of Object.entries(scopes))
      table.set(method, Object.freeze([...list]));
  const listed = table.get('*');
  if (!preset) {
    const fallback = listed ?? METHOD_NOT_GRANTED;
    return (method) => table.get(method) ?? fallback;
  }
  // The preset decides every method the map does not list.
  const names = config.presetScopes;
  const byPermission = {
    read: Object.freeze([names.read]),
    edit: Object.freeze([names.edit]),
    manage: Object.freeze([names.manage]),
    admin: Object.freeze([names.admin]),
  };
  if (config.mlflowPermissions) {
    // MLflow's permission app decides per resource: authgate's gate is read / edit / admin.
    return (method, path) =>
      table.get(method) ??
      listed ??
      byPermission[mlflowAppPermission(classifyMlflowRequest(method, path))];
  }
  return (method, path) =>
    table.get(method) ?? listed ?? byPermission[classifyMlflowRequest(method, path).permission];
}

export function compileRoute(config: Readonly<RouteConfig>): CompiledRoute {
  const upstreams = (
    config.upstreams ?? (config.upstream !== undefined ? [config.upstream] : [])
  ).map(parseUpstream);
  if (upstreams.length === 0) throw new Error(`routes.${config.name}: no upstream`);
  const prefix = config.prefix.length > 1 ? trimTrailingSlashes(config.prefix) || '/' : '/';
  return {
    name: config.name,
    prefix,
    matchPrefix: asciiLower(prefix),
    config,
    upstream: upstreams[0] as Upstream,
    upstreams,
    scopesFor: compileScopes(config),
    errorStyle: config.errorStyle ?? (config.preset === 'mlflow' ? 'mlflow' : 'authgate'),
  };
}

/** ASCII-only lower case: the length never changes, so prefixes can be sliced off as matched. */
export function asciiLower(s: string): string {
  return /[A-Z]/.test(s) ? s.replace(/[A-Z]+/g, (m) => m.toLowerCase()) : s;
}

/** `/a;x=1/b;y` → `/a/b`: the path as a Tomcat/Spring upstream routes it (matrix parameters). */
export function withoutPathParameters(path: string): string {
  return path.includes(';') ? path.replace(/;[^/]*/g, '') : path;
}

export class RouteTable {
  readonly routes: readonly CompiledRoute[];

  constructor(configs: readonly Readonly<RouteConfig>[]) {
    this.routes = configs.map(compileRoute).sort((a, b) => b.prefix.length - a.prefix.length);
  }

  /**
   * The route for a normalised path, or throws 404 ROUTE_NOT_FOUND. Selection ignores ASCII
   * case, since many upstreams (Express, ASP.NET, IIS) route case-insensitively: `/ADMIN/users`
   * is decided by the `/admin` route, never by a catch-all. A path whose `;` parameters would
   * select another route once an upstream drops them (`/admin;x/users`) is refused (400).
   */
  match(path: string): CompiledRoute {
    const key = asciiLower(path);
    const route = this.select(key);
    if (key.includes(';') && this.select(withoutPathParameters(key)) !== route) {
      throw new AuthgateError('BAD_REQUEST', {
        message: 'Path parameters (";") may not change which route a path belongs to.',
        reason: 'path_parameter_route',
      });
    }
    if (route === undefined) throw new AuthgateError('ROUTE_NOT_FOUND', { reason: 'no_route' });
    return route;
  }

  private select(key: string): CompiledRoute | undefined {
    for (const route of this.routes) {
      const p = route.matchPrefix;
      if (p === '/') return route;
      if (key.startsWith(p) && (key.length === p.length || key.charCodeAt(p.length) === 47)) {
        return route;
      }
    }
    return undefined;
  }
}

/** The path below the route: the prefix stripped if configured (what presets classify). */
export function routePath(route: CompiledRoute, path: string): string {
  if (!route.config.stripPrefix || route.prefix === '/') return path;
  const rest = path.slice(route.prefix.length);
  return rest === '' ? '/' : rest;
}

/** The path sent upstream: prefix stripped if configured, upstream base path prepended. */
export function upstreamPath(route: CompiledRoute, path: string): string {
  return route.upstream.basePath + routePath(route, path);
}

/**
 * The tenant a path names (`tenantPathSegment`: the Nth segment after the route's prefix), or
 * undefined when the route names none or the path is shorter (the registry's `/v2/` ping).
 */
export function pathTenant(route: CompiledRoute, path: string): string | undefined {
  const n = route.config.tenantPathSegment;
  if (n === undefined) return undefined;
  const rest = route.prefix === '/' ? path : path.slice(route.prefix.length);
  const segments = rest.split('/').filter((s) => s !== '');
  return segments[n - 1];
}

function decodeQueryPart(part: string): string {
  try {
    return decodeURIComponent(part.replace(/\+/g, ' '));
  } catch {
    throw new AuthgateError('BAD_REQUEST', {
      message: 'The query string holds invalid percent-encoding.',
      reason: 'bad_query_encoding',
    });
  }
}

/** Query parameters that name a repository (a registry's cross-repository mount `from=`). */
const REPOSITORY_PARAMS: ReadonlySet<string> = new Set(['from']);

/**
 * The tenants named by repository parameters of the query (`?mount=<digest>&from=beta/models`),
 * on a route with `tenantPathSegment`: the tenant is the segment of the named repository at the
 * place the path's tenant holds in the path's repository name. Names and values are compared
 * decoded (`fr%6Fm`, `%62eta%2Fmodels`); a name with empty or dot segments is refused.
 */
export function repositoryParamTenants(
  route: CompiledRoute,
  path: string,
  search: string,
): string[] {
  const n = route.config.tenantPathSegment;
  if (n === undefined || search.length < 2) return [];
  const out: string[] = [];
  for (const part of search.slice(1).split(/[&;]/)) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (!REPOSITORY_PARAMS.has(decodeQueryPart(part.slice(0, eq)).toLowerCase())) continue;
    const segments = decodeQueryPart(part.slice(eq + 1)).split('/');
    if (segments.some((s) => s === '' || s === '.' || s === '..')) {
      throw new AuthgateError('BAD_REQUEST', {
        message: 'A repository named in the query must be a plain repository name.',
        reason: 'bad_repository_param',
      });
    }
    // The repository name starts after `/v2/` (when the prefix did not take it).
    const rest = route.prefix === '/' ? path : path.slice(route.prefix.length);
    const nameStart = rest.split('/').filter((s) => s !== '')[0] === 'v2' ? 1 : 0;
    const tenant = segments[Math.max(0, n - 1 - nameStart)];
    // A name too short to hold a tenant names nobody's: refused like a foreign tenant.
    out.push(tenant ?? '');
  }
  return out;
}
